import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Address } from "viem";
import { getConsent, getTokenBalance, grantConsent, isConsentValid, listDataset } from "../chain/mod.ts";
import { createDevClient, makeDekCommit, makeManifestCid, ONE } from "../chain/testing.ts";
import {
  epochOf,
  sensorPublicKeyHex,
  signReading,
  type StreamColumn,
  verifySensorAttestation,
} from "../../../protocol/streams.ts";
import { startGatewayNode } from "../../../tests/gateway.ts";
import { STREAM_SALE_PURPOSE, toSensorSource } from "./sensors.ts";
import { MQTT_CLIENT_ID } from "./clients.ts";

const STREAM = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
const schema: StreamColumn[] = [{ name: "temp", type: "number" }, { name: "ok", type: "boolean" }];

Deno.test("Gateway: a proxy's key is 0600, attestations verify, consent is granted and revoked on chain as the proxy; an own owner's consent is read from the chain", async () => {
  await using g = await startGatewayNode("kosmos-gateway-owners-");
  const { gateway, node } = g;
  const chain = node.components.chain;
  const proxy = await gateway.createOwner("Greenhouse owner");
  assert.equal(proxy.kind, "proxy");
  const keyFile = join(node.config.dataDir, "proxies", `${proxy.address}.key`);
  assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);

  const sensor = await gateway.registerSensor({ sensorId: "gh3.temp", owner: proxy.address, label: "Temp" });
  assert.equal(sensor.owner, proxy.address);
  assert.equal(sensor.gateway, node.components.identity.account.address);
  assert.ok(
    await verifySensorAttestation(
      {
        sensorId: "gh3.temp",
        owner: proxy.address,
        gateway: sensor.gateway,
        sensorKey: null,
        issuedAt: sensor.issuedAt,
      },
      sensor.attestation,
      chain.chainId,
    ),
  );
  assert.equal(
    await verifySensorAttestation(
      {
        sensorId: "gh3.temp",
        owner: sensor.gateway,
        gateway: sensor.gateway,
        sensorKey: null,
        issuedAt: sensor.issuedAt,
      },
      sensor.attestation,
      chain.chainId,
    ),
    false,
    "the attestation binds this owner",
  );
  const record = await getConsent(chain.client, { consentId: BigInt(sensor.consentId!) });
  assert.equal(record?.contributor, proxy.address);
  assert.equal(record?.source, toSensorSource("gh3.temp"));
  assert.equal(record?.purpose, STREAM_SALE_PURPOSE);
  assert.ok(sensor.consentValid);
  await assert.rejects(gateway.registerSensor({ sensorId: "gh3.temp", owner: proxy.address }), {
    name: "SensorExistsError",
  });
  // Two registrations of one id at once: one wins, the other is refused (not a database error).
  const both = await Promise.allSettled([
    gateway.registerSensor({ sensorId: "twice", owner: proxy.address }),
    gateway.registerSensor({ sensorId: "twice", owner: proxy.address }),
  ]);
  assert.deepEqual(both.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  assert.equal(
    (both.find((r) => r.status === "rejected") as PromiseRejectedResult).reason.name,
    "SensorExistsError",
  );

  g.defineStream("gh3.temp", { streamId: STREAM, schema, epochSeconds: 60 });
  const { key } = gateway.createClient("hub");
  const t0 = Date.now();
  assert.equal(
    (await gateway.ingest(key, [{ sensorId: "gh3.temp", ts: t0, values: { temp: 20, ok: true } }])).accepted,
    1,
  );

  const revoked = await gateway.revokeConsent("gh3.temp");
  assert.equal(revoked.consentValid, false);
  assert.equal(await isConsentValid(chain.client, { consentId: BigInt(sensor.consentId!) }), false);
  const refused = await gateway.ingest(key, [{
    sensorId: "gh3.temp",
    ts: t0 + 1,
    values: { temp: 21, ok: true },
  }]);
  assert.deepEqual(refused.rejected.map((r) => r.reason), ["consent-revoked"]);
  const granted = await gateway.grantConsent("gh3.temp");
  assert.ok(granted.consentValid && granted.consentId !== sensor.consentId);
  assert.equal(
    (await gateway.ingest(key, [{ sensorId: "gh3.temp", ts: t0 + 2, values: { temp: 22, ok: true } }]))
      .accepted,
    1,
  );

  // An own owner (a dev wallet): no consent until they grant it from their wallet, read from the chain.
  const alice = createDevClient(chain.rpcUrl, chain.client.contracts, 1);
  const aliceAddress = alice.walletClient.account.address;
  const own = await gateway.registerSensor({ sensorId: "alice.1", owner: aliceAddress });
  assert.equal(own.consentValid, false);
  assert.equal(gateway.listOwners().find((o) => o.address === aliceAddress)?.kind, "own");
  await assert.rejects(gateway.revokeConsent("alice.1"), { name: "OwnerStateError" });
  g.defineStream("alice.1", { streamId: STREAM, schema, epochSeconds: 60 });
  const before = await gateway.ingest(key, [{ sensorId: "alice.1", ts: t0, values: { temp: 1, ok: false } }]);
  assert.deepEqual(before.rejected.map((r) => r.reason), ["consent-revoked"]);
  // A consent for another sensor does not count.
  const expiry = BigInt(Math.floor(Date.now() / 1000) + 3600);
  await grantConsent(alice, { source: toSensorSource("other"), purpose: STREAM_SALE_PURPOSE, expiry });
  await gateway.refreshConsents();
  assert.equal(gateway.sensors.get("alice.1")!.consentValid, false);
  await grantConsent(alice, { source: toSensorSource("alice.1"), purpose: STREAM_SALE_PURPOSE, expiry });
  await gateway.refreshConsents();
  assert.equal(gateway.sensors.get("alice.1")!.consentValid, true);
  assert.equal(
    (await gateway.ingest(key, [{ sensorId: "alice.1", ts: t0 + 5, values: { temp: 2, ok: false } }]))
      .accepted,
    1,
  );
});

Deno.test("Gateway.takeover() hands a proxy's listings and tokens to the owner's wallet, signs the attestations again and erases the key", async () => {
  await using g = await startGatewayNode("kosmos-gateway-takeover-");
  const { gateway, node } = g;
  const chain = node.components.chain;
  const proxy = await gateway.createOwner("Field owner");
  await gateway.registerSensor({ sensorId: "field.1", owner: proxy.address });
  // The proxy lists something with tokens the gateway gave it, and keeps some tokens.
  await gateway.owners.fundTokens(proxy.address, 150n * ONE);
  const client = await gateway.owners.client(proxy.address);
  const { listingId } = await listDataset(client, {
    manifestCid: await makeManifestCid("takeover"),
    dekCommit: makeDekCommit("takeover"),
    stake: 100n * ONE,
  });
  const owner = createDevClient(chain.rpcUrl, chain.client.contracts, 2).walletClient.account
    .address as Address;
  const tokensBefore = await getTokenBalance(chain.client, { address: owner });
  const consentId = BigInt(gateway.sensors.get("field.1")!.consentId!);

  await assert.rejects(gateway.takeover(proxy.address, proxy.address), TypeError);
  const result = await gateway.takeover(proxy.address, owner);
  assert.deepEqual(result.listings, [listingId]);
  assert.equal(result.tokens, 50n * ONE);
  assert.equal(await getTokenBalance(chain.client, { address: owner }), tokensBefore + 50n * ONE);
  const ownerOf = await chain.publicClient.readContract({
    address: chain.client.contracts.registry,
    abi: (await import("../../../protocol/contracts_generated.ts")).kosmosRegistryAbi,
    functionName: "ownerOf",
    args: [listingId],
  });
  assert.equal(ownerOf, owner);
  assert.equal(result.owner.takenOverBy, owner);
  assert.equal(result.owner.kind, "own");
  await assert.rejects(
    Deno.stat(join(node.config.dataDir, "proxies", `${proxy.address}.key`)),
    Deno.errors.NotFound,
  );
  const sensor = gateway.sensors.get("field.1")!;
  assert.equal(sensor.owner, owner);
  assert.ok(
    await verifySensorAttestation(
      { sensorId: "field.1", owner, gateway: sensor.gateway, sensorKey: null, issuedAt: sensor.issuedAt },
      sensor.attestation,
      chain.chainId,
    ),
  );
  assert.equal(await isConsentValid(chain.client, { consentId }), false, "the proxy's consent is revoked");
  assert.equal(sensor.consentValid, false);
  await assert.rejects(gateway.takeover(proxy.address, owner), { name: "OwnerStateError" });
  await assert.rejects(gateway.owners.client(proxy.address), { name: "OwnerStateError" });
});

Deno.test("Gateway ingest: every rejection reason, counted per client and sensor; accepted readings are committed, kept across a restart, and handed on sorted", async () => {
  await using g = await startGatewayNode("kosmos-gateway-ingest-", { sealGraceMs: 500 });
  const { node } = g;
  const proxy = await g.gateway.createOwner("o");
  const pair = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]) as CryptoKeyPair;
  await g.gateway.registerSensor({ sensorId: "a", owner: proxy.address });
  await g.gateway.registerSensor({
    sensorId: "signed",
    owner: proxy.address,
    sensorKey: await sensorPublicKeyHex(pair.publicKey),
  });
  await g.gateway.registerSensor({ sensorId: "loose", owner: proxy.address });
  g.defineStream("a", { streamId: STREAM, schema, epochSeconds: 2 });
  g.defineStream("signed", { streamId: STREAM, schema, epochSeconds: 2 });
  const { key, client } = g.gateway.createClient("hub");
  const now = Date.now();
  const good = { sensorId: "signed", ts: now, values: { temp: 1.5, ok: true } };
  const sig = await signReading(pair.privateKey, good);
  const result = await g.gateway.ingest(key, [
    { sensorId: "a", ts: now + 1, values: { temp: 2, ok: false } }, // 0 accepted
    { sensorId: "a", ts: now - 10, values: { temp: 2, ok: false } }, // 1 before the previous one: out of order
    { ...good, sig }, // 2 accepted
    { ...good, ts: now + 2, sig }, // 3 bad signature (signed another ts)
    { sensorId: "signed", ts: now + 3, values: { temp: 1, ok: true } }, // 4 unsigned
    { sensorId: "nobody", ts: now, values: { temp: 1, ok: true } }, // 5 unknown
    { sensorId: "loose", ts: now, values: { temp: 1, ok: true } }, // 6 in no stream
    { sensorId: "a", ts: now + 4, values: { temp: "warm", ok: false } }, // 7 malformed
    { sensorId: "a", ts: now + 5, values: { temp: 1 } }, // 8 malformed (missing column)
    { sensorId: "a", ts: now + 6, values: { temp: 1, ok: true, extra: 1 } }, // 9 malformed
    { sensorId: "a", ts: now + 60_000, values: { temp: 1, ok: true } }, // 10 future
    { sensorId: "a", ts: now + 1, values: { temp: 1, ok: true } }, // 11 equal ts: out of order
    { sensorId: "a", ts: now + 7, values: { temp: 3, ok: null } }, // 12 accepted (null value)
    "not a reading", // 13 malformed
  ]);
  assert.equal(result.accepted, 3);
  assert.deepEqual(
    result.rejected.map((r) => [r.index, r.reason]),
    [
      [1, "out-of-order"],
      [3, "bad-signature"],
      [4, "bad-signature"],
      [5, "unknown-sensor"],
      [6, "unknown-sensor"],
      [7, "malformed"],
      [8, "malformed"],
      [9, "malformed"],
      [10, "future"],
      [11, "out-of-order"],
      [13, "malformed"],
    ],
  );
  assert.match(result.rejected.find((r) => r.index === 6)!.message, /no stream/);
  // Handed on once, after the commit, sorted by ts.
  assert.equal(g.accepted.length, 1);
  assert.deepEqual(g.accepted[0].readings.map((r) => [r.sensorId, r.ts]), [
    ["signed", now],
    ["a", now + 1],
    ["a", now + 7],
  ]);
  const rows = node.components.db.prepare(
    "SELECT sensor_id, ts, epoch, values_json FROM gateway_readings ORDER BY ts",
  ).all() as { sensor_id: string; ts: number; epoch: number; values_json: string }[];
  assert.deepEqual(rows.map((r) => [r.sensor_id, r.ts, r.epoch]), [
    ["signed", now, epochOf(now, 2)],
    ["a", now + 1, epochOf(now + 1, 2)],
    ["a", now + 7, epochOf(now + 7, 2)],
  ]);
  assert.deepEqual(JSON.parse(rows[2].values_json), { temp: 3, ok: null });
  // Committed when the answer came: another connection to the file (as after a kill) sees every row.
  const other = new DatabaseSync(join(node.config.dataDir, "kosmos.db"), { readOnly: true });
  try {
    assert.equal((other.prepare("SELECT COUNT(*) AS n FROM gateway_readings").get() as { n: number }).n, 3);
  } finally {
    other.close();
  }

  // A sealed epoch: more than an epoch and the grace later, a reading of the old epoch is refused.
  await new Promise((r) => setTimeout(r, 4600));
  const sealed = await g.gateway.ingest(key, [{
    sensorId: "a",
    ts: now + 100,
    values: { temp: 1, ok: true },
  }]);
  assert.deepEqual(sealed.rejected.map((r) => r.reason), ["epoch-sealed"]);

  // Restart: the last timestamps and counters survive.
  const again = await g.restart();
  const replay = await again.ingest(key, [{ sensorId: "a", ts: now + 7, values: { temp: 3, ok: true } }]);
  assert.deepEqual(replay.rejected.map((r) => r.reason), ["out-of-order"]);
  const stats = again.stats();
  assert.equal(stats.accepted, 3);
  assert.deepEqual(stats.rejected, {
    "unknown-sensor": 2,
    "bad-signature": 2,
    malformed: 4,
    "out-of-order": 3,
    future: 1,
    "consent-revoked": 0,
    "epoch-sealed": 1,
  });
  const hub = stats.byClient.find((c) => c.clientId === client.id)!;
  assert.equal(hub.accepted, 3);
  assert.ok(stats.byClient.some((c) => c.clientId === MQTT_CLIENT_ID));
  const a = stats.bySensor.find((s) => s.sensorId === "a")!;
  assert.deepEqual(a, {
    sensorId: "a",
    accepted: 2,
    rejected: { "out-of-order": 3, malformed: 3, future: 1, "epoch-sealed": 1 },
  });
  assert.equal(
    stats.bySensor.some((s) => s.sensorId === "nobody"),
    false,
    "unknown ids are not counted per sensor",
  );
  assert.equal(again.sensors.get("a")!.lastTs, now + 7);
  assert.deepEqual(again.readingsOf(STREAM, epochOf(now + 7, 2)).at(-1), {
    sensorId: "a",
    ts: now + 7,
    values: { temp: 3, ok: null },
  });
});

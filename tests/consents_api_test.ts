/**
 * Consent over HTTP against a real node on its embedded chain, through `app.request()`:
 * `POST /api/v1/consents` grants from the node's wallet (and previews without sending),
 * `GET /api/v1/consents` reads each consent's state from the chain (valid, revoked, expired) and
 * finds a grant of the node's wallet made without the node's API, `DELETE /api/v1/consents/:id`
 * previews and revokes, and every status the routes answer: 200, 201, 400, 403, 404, 405, 409,
 * 415, 422 (and 503 on a chain without the contracts, in `chain_test.ts`).
 */
import assert from "node:assert/strict";
import type { ConsentView } from "../protocol/api/mod.ts";
import {
  getConsent,
  grantConsent,
  isConsentValid,
  toPurposeId,
  toSourceId,
} from "../node/services/chain/mod.ts";
import { createDevClient, makeManifestCid } from "../node/services/chain/testing.ts";
import { startAppNode } from "./node_app.ts";

const day = 86_400_000;

Deno.test("POST, GET and DELETE /api/v1/consents grant, list from the chain, preview and revoke; bad requests change nothing", async () => {
  await using started = await startAppNode("kosmos-consents-api-");
  const { node, app } = started;
  const chain = node.components.chain;
  const call = async (method: string, path: string, body?: unknown, type = "application/json") => {
    const response = await app.request(path, {
      method,
      headers: { accept: "application/json", ...(body !== undefined ? { "content-type": type } : {}) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const list = async () => {
    const { status, body } = await call("GET", "/api/v1/consents");
    assert.equal(status, 200);
    return body.consents as ConsentView[];
  };
  const blockNumber = () => chain.publicClient.getBlockNumber({ cacheTime: 0 });
  assert.deepEqual(await list(), []);

  const fields = { kind: "spotify", purpose: "music research", expiresAt: Date.now() + 30 * day };
  const before = await blockNumber();
  // Bad requests: the one error shape, nothing sent.
  const bad: [unknown, number, RegExp, string?][] = [
    ["not json", 400, /JSON/],
    [fields, 415, /JSON|content type/i, "text/plain"],
    [[], 422, /Expected a JSON object/],
    [{ ...fields, extra: 1 }, 422, /Unknown field "extra"/],
    [{ ...fields, kind: "myspace" }, 422, /"kind" must be one of/],
    [{ ...fields, purpose: "ab" }, 422, /3 to 200 characters/],
    [{ ...fields, purpose: "x".repeat(201) }, 422, /3 to 200 characters/],
    [{ ...fields, purpose: "bad\u0000text" }, 422, /printable/],
    [{ ...fields, purpose: " padded" }, 422, /space/],
    [{ ...fields, expiresAt: "soon" }, 422, /"expiresAt" must be a number/],
    [{ ...fields, expiresAt: 1.5 }, 422, /whole number/],
    [{ ...fields, expiresAt: Date.now() + 10_000 }, 422, /at least a minute/],
    [{ ...fields, expiresAt: Date.now() + 6 * 365 * day }, 422, /at most five years/],
    [{ ...fields, signed: { contributor: "0x12", deadline: 1, signature: "0x" } }, 422, /address/],
  ];
  for (const [body, status, message, type] of bad) {
    const answer = await call("POST", "/api/v1/consents", body, type);
    assert.equal(answer.status, status, JSON.stringify(body));
    assert.deepEqual(Object.keys(answer.body), ["error"]);
    assert.match(answer.body.error.message, message);
  }
  assert.equal((await call("POST", "/api/v1/consents?preview=maybe", fields)).status, 400);
  assert.equal((await call("PUT", "/api/v1/consents", fields)).status, 405);

  const preview = await call("POST", "/api/v1/consents?preview=1", fields);
  assert.equal(preview.status, 200);
  assert.equal(preview.body.preview, true);
  assert.ok(BigInt(preview.body.fee.gas) > 50_000n && BigInt(preview.body.fee.fee) > 0n);
  assert.equal(await blockNumber(), before, "a preview and bad requests send nothing");

  const granted = await call("POST", "/api/v1/consents", fields);
  assert.equal(granted.status, 201, JSON.stringify(granted.body));
  const consent = granted.body as ConsentView & { gasUsed: string };
  assert.equal(consent.id, consent.tokenId);
  assert.deepEqual(
    [consent.kind, consent.purpose, consent.contributor, consent.state, consent.gasless, consent.revokedAt],
    ["spotify", "music research", node.address, "valid", false, null],
  );
  assert.equal(consent.expiresAt, Math.floor(fields.expiresAt / 1000) * 1000);
  assert.match(consent.txHash, /^0x[0-9a-f]{64}$/);
  assert.ok(BigInt(consent.gasUsed) > 0n);
  const tokenId = BigInt(consent.tokenId);
  const onChain = await getConsent(chain.client, { consentId: tokenId });
  assert.equal(onChain?.contributor, node.address);
  assert.equal(onChain?.source, toSourceId("spotify"));
  assert.equal(onChain?.purpose, toPurposeId("music research"));
  assert.equal(await isConsentValid(chain.client, { consentId: tokenId }), true);
  const receipt = await chain.publicClient.getTransactionReceipt({ hash: consent.txHash });
  console.log(`grant: ${receipt.gasUsed} gas`);
  assert.deepEqual((await list()).map((c) => [c.id, c.state]), [[consent.id, "valid"]]);

  // A grant of this wallet made without the API (another process on the same key) is found in the logs.
  const elsewhere = await chain.exclusive(async () =>
    await grantConsent(chain.client, {
      source: toSourceId("netflix"),
      purpose: toPurposeId("music research"),
      expiry: BigInt(Math.floor((Date.now() + day) / 1000)),
    })
  );
  const found = (await list()).find((c) => c.id === elsewhere.consentId.toString());
  assert.ok(found, "the grant made elsewhere is listed");
  assert.deepEqual([found.kind, found.purpose, found.state, found.gasless], [
    "netflix",
    "music research",
    "valid",
    false,
  ]);
  assert.deepEqual(
    (await node.components.consent.validFor("netflix", "music research")).map((c) => c.tokenId),
    [elsewhere.consentId],
  );

  // Revocation: bad ids, unknown ids, another wallet's consent, a preview, then the revocation once.
  assert.equal((await call("DELETE", "/api/v1/consents/abc")).status, 400);
  assert.equal((await call("DELETE", "/api/v1/consents/0")).status, 400);
  assert.equal((await call("DELETE", `/api/v1/consents/${consent.id}?preview=2`)).status, 400);
  const unknown = await call("DELETE", "/api/v1/consents/999");
  assert.equal(unknown.status, 404);
  assert.match(unknown.body.error.message, /No consent 999/);
  const stranger = createDevClient(chain.rpcUrl, chain.contracts!, 3);
  const theirs = await grantConsent(stranger, {
    source: toSourceId("uber"),
    purpose: toPurposeId("mobility research"),
    expiry: BigInt(Math.floor((Date.now() + day) / 1000)),
  });
  const forbidden = await call("DELETE", `/api/v1/consents/${theirs.consentId}`);
  assert.equal(forbidden.status, 403);
  assert.match(forbidden.body.error.message, /held by 0x[0-9a-fA-F]{40}, not by this node's wallet/);
  assert.equal(await isConsentValid(chain.client, { consentId: theirs.consentId }), true);
  assert.ok(
    !(await list()).some((c) => c.id === theirs.consentId.toString()),
    "another wallet's is not listed",
  );

  const beforeRevoke = await blockNumber();
  const revokePreview = await call("DELETE", `/api/v1/consents/${consent.id}?preview=1`);
  assert.equal(revokePreview.status, 200);
  assert.ok(BigInt(revokePreview.body.fee.gas) > 0n);
  assert.equal(await blockNumber(), beforeRevoke, "a revocation preview sends nothing");
  const revoked = await call("DELETE", `/api/v1/consents/${consent.id}`);
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  assert.equal(revoked.body.state, "revoked");
  assert.match(revoked.body.revokeTxHash, /^0x[0-9a-f]{64}$/);
  assert.ok(revoked.body.revokedAt >= consent.grantedAt);
  const revokeReceipt = await chain.publicClient.getTransactionReceipt({ hash: revoked.body.revokeTxHash });
  console.log(`revoke: ${revokeReceipt.gasUsed} gas`);
  assert.equal(await isConsentValid(chain.client, { consentId: tokenId }), false);
  const again = await call("DELETE", `/api/v1/consents/${consent.id}`);
  assert.equal(again.status, 409);
  assert.match(again.body.error.message, /already revoked/);
  assert.equal((await call("DELETE", `/api/v1/consents/${consent.id}?preview=1`)).status, 409);
  const listed = await list();
  assert.equal(listed.find((c) => c.id === consent.id)?.state, "revoked");
  assert.equal(listed.find((c) => c.id === consent.id)?.revokeTxHash, revoked.body.revokeTxHash);
  assert.deepEqual(await node.components.consent.validFor("spotify", "music research"), []);

  // The grant message: its query is checked, the typed data names this chain and contract.
  const q = new URLSearchParams({
    kind: "spotify",
    purpose: "music research",
    expiresAt: String(Date.now() + day),
    contributor: stranger.walletClient.account.address,
    deadline: String(Math.floor(Date.now() / 1000) + 600),
  });
  const message = await call("GET", `/api/v1/consents/grant-message?${q}`);
  assert.equal(message.status, 200, JSON.stringify(message.body));
  assert.deepEqual(message.body.domain, {
    name: "Kosmos Consent",
    version: "1",
    chainId: chain.chainId,
    verifyingContract: chain.contracts!.consent,
  });
  assert.equal(message.body.primaryType, "Grant");
  assert.equal(message.body.message.nonce, "0");
  assert.equal(message.body.message.source, toSourceId("spotify"));
  for (
    const [key, value, status] of [
      ["kind", "myspace", 400],
      ["contributor", "0x12", 400],
      ["deadline", "soon", 400],
      ["expiresAt", "", 400],
      ["deadline", "1", 422],
      ["expiresAt", String(Date.now()), 422],
    ] as const
  ) {
    const bent = new URLSearchParams(q);
    bent.set(key, value);
    const answer = await call("GET", `/api/v1/consents/grant-message?${bent}`);
    assert.equal(answer.status, status, `${key}=${value}: ${JSON.stringify(answer.body)}`);
  }
  assert.equal((await call("GET", `/api/v1/consents/grant-message?${q}&other=1`)).status, 400);
  assert.equal((await call("POST", `/api/v1/consents/grant-message?${q}`, {})).status, 405);
});

Deno.test("a consent past its expiry is listed as expired and cannot back an ownership record", async () => {
  await using started = await startAppNode("kosmos-consents-expiry-");
  const { node, app } = started;
  const chain = node.components.chain;
  const consent = node.components.consent;
  const granted = await consent.grant({
    kind: "uber",
    purpose: "mobility research",
    expiresAt: Date.now() + 120_000,
  });
  const other = await consent.grant({
    kind: "uber",
    purpose: "mobility research",
    expiresAt: Date.now() + day,
  });
  const cid = await makeManifestCid("publication 1");
  const recorded = await consent.recordOwnership(cid, [granted.tokenId, other.tokenId]);
  const receipt = await chain.publicClient.getTransactionReceipt({ hash: recorded.txHash });
  console.log(`record (2 consents): ${receipt.gasUsed} gas`);
  assert.equal(recorded.tokenId, 1n);

  await chain.publicClient.request({ method: "evm_increaseTime" as never, params: [180] as never });
  await chain.publicClient.request({ method: "evm_mine" as never, params: [] as never });
  const response = await app.request("/api/v1/consents", { headers: { accept: "application/json" } });
  const { consents } = await response.json() as { consents: ConsentView[] };
  assert.deepEqual(consents.map((c) => [c.id, c.state]), [
    [granted.tokenId.toString(), "expired"],
    [other.tokenId.toString(), "valid"],
  ]);
  assert.deepEqual(
    (await consent.validFor("uber", "mobility research")).map((c) => c.tokenId),
    [other.tokenId],
  );
  await assert.rejects(
    consent.recordOwnership(await makeManifestCid("publication 2"), [granted.tokenId]),
    (err: Error) => err.name === "ConsentNotValidError" && /is expired/.test(err.message),
  );
});

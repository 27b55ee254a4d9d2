import assert from "node:assert/strict";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  contentCidOf,
  decodeEpochQueryRequest,
  deriveEpochKey,
  encodeEpochQueryResponse,
  epochDekCommit,
  epochOf,
  type EpochSealed,
  signEpochSealed,
  STREAMS_PROTOCOL,
} from "../../../protocol/streams.ts";
import { openDatabase } from "../db/mod.ts";
import { loadIdentity } from "../identity/mod.ts";
import { createP2P, type P2P } from "../p2p/mod.ts";
import { createLogger } from "../../log.ts";
import { StreamCatalog } from "./catalog.ts";
import { StreamsProtocol } from "./protocol_handler.ts";
import { makeStream } from "./epochs_fixtures_test.ts";

const CHAIN_ID = 31337;
const log = createLogger({ level: "error" }).forComponent("kosmos:streams");

/** Three real libp2p hosts on loopback (a server, an asker, a liar), each with a catalog and the protocol. */
async function trio() {
  const dirs: string[] = [];
  const nodes: { p2p: P2P; catalog: StreamCatalog; protocol: StreamsProtocol; close(): void }[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = await Deno.makeTempDir({ prefix: "kosmos-epoch-query-" });
    dirs.push(dir);
    const identity = await loadIdentity(dir);
    const p2p = createP2P({ identity, log }, { listen: ["/ip4/127.0.0.1/tcp/0"] });
    await p2p.start();
    const db = openDatabase(":memory:");
    const catalog = new StreamCatalog({ db, p2p, identity, chain: { chainId: CHAIN_ID }, log });
    const protocol = new StreamsProtocol({ p2p, catalog, log }, { timeout: 5000 });
    nodes.push({ p2p, catalog, protocol, close: () => db.close() });
  }
  await nodes[0].protocol.start();
  for (const n of nodes.slice(1)) await n.p2p.libp2p.dial(multiaddr(nodes[0].p2p.listenAddresses()[0]));
  await nodes[1].p2p.libp2p.dial(multiaddr(nodes[2].p2p.listenAddresses()[0]));
  return {
    server: nodes[0],
    asker: nodes[1],
    liar: nodes[2],
    async [Symbol.asyncDispose]() {
      await nodes[0].protocol.stop();
      for (const n of nodes) {
        await n.p2p.stop();
        n.close();
      }
      for (const d of dirs) await Deno.remove(d, { recursive: true });
    },
  };
}

async function sealed(
  signer: Parameters<typeof signEpochSealed>[0],
  streamId: string,
  epoch: number,
): Promise<EpochSealed> {
  const key = await deriveEpochKey(new Uint8Array(32).fill(7), epoch);
  return await signEpochSealed(signer, {
    v: 1,
    type: "epoch-sealed",
    streamId,
    epoch,
    manifestCid: null,
    contentCid: contentCidOf(new Uint8Array(0)),
    rows: 0,
    dekCommit: epochDekCommit(key),
    gateway: signer.address,
  });
}

Deno.test("the epoch query protocol serves the stored EpochSealed records of a range, and the asker stores the ones that verify", async () => {
  await using net = await trio();
  const gateway = privateKeyToAccount(generatePrivateKey());
  const stream = await makeStream({
    gateway,
    publisherPeer: net.server.p2p.peerId.toString(),
    chainId: CHAIN_ID,
  });
  const first = epochOf(Date.now(), 2) - 20;
  await net.server.catalog.publishAnnouncement(stream.announcement);
  for (let e = first; e < first + 10; e++) {
    assert.equal(
      (await net.server.catalog.ingestSealed(await sealed(gateway, stream.streamId, e))).result,
      "accept",
    );
  }
  const server = net.server.p2p.peerId.toString();
  // The asker does not know the stream yet: nothing it is sent can be checked, so nothing is stored.
  assert.deepEqual(
    await net.asker.protocol.queryPeer(server, { streamId: stream.streamId, from: first, to: first + 3 }),
    { received: 4, stored: 0 },
  );
  await net.asker.catalog.publishAnnouncement(stream.announcement);
  assert.deepEqual(
    await net.asker.protocol.queryPeer(server, { streamId: stream.streamId, from: first + 2, to: first + 4 }),
    { received: 3, stored: 3 },
  );
  assert.deepEqual(net.asker.catalog.listEpochs(stream.streamId, 0, first + 100).map((e) => e.epoch), [
    first + 2,
    first + 3,
    first + 4,
  ]);
  // queryPeers asks until the range is covered.
  assert.equal(
    await net.asker.protocol.queryPeers({ streamId: stream.streamId, from: first, to: first + 9 }),
    7,
  );
  assert.equal(net.asker.catalog.listEpochs(stream.streamId, first, first + 9).length, 10);
  // A stream the server does not know is refused.
  const other = await makeStream({ gateway, publisherPeer: server, chainId: CHAIN_ID });
  await assert.rejects(
    net.asker.protocol.queryPeer(server, { streamId: other.streamId, from: 0, to: 1 }),
    { name: "EpochQueryError", message: /unknown-stream/ },
  );
});

Deno.test("an asker stores nothing from a peer that answers with forged or out-of-range epochs", async () => {
  await using net = await trio();
  const gateway = privateKeyToAccount(generatePrivateKey());
  const mallory = privateKeyToAccount(generatePrivateKey());
  const stream = await makeStream({
    gateway,
    publisherPeer: net.server.p2p.peerId.toString(),
    chainId: CHAIN_ID,
  });
  await net.asker.catalog.publishAnnouncement(stream.announcement);
  const epoch = epochOf(Date.now(), 2) - 5;
  let answer: EpochSealed[] = [];
  await net.liar.p2p.handle(STREAMS_PROTOCOL, async (s) => {
    const lp = lpStream(s);
    decodeEpochQueryRequest((await lp.read()).subarray());
    await lp.write(encodeEpochQueryResponse({ v: 1, epochs: answer }));
    await s.close();
  });
  const liar = net.liar.p2p.peerId.toString();
  const range = { streamId: stream.streamId, from: epoch, to: epoch };

  // Signed by someone other than the stream's gateway.
  answer = [await sealed(mallory, stream.streamId, epoch)];
  await assert.rejects(net.asker.protocol.queryPeer(liar, range), {
    name: "EpochQueryError",
    message: /invalid/,
  });
  // The gateway's own signature over one field, another field altered.
  const genuine = await sealed(gateway, stream.streamId, epoch);
  answer = [{ ...genuine, rows: 9 }];
  await assert.rejects(net.asker.protocol.queryPeer(liar, range), { name: "EpochQueryError" });
  // A genuine record, but of an epoch not asked for.
  answer = [await sealed(gateway, stream.streamId, epoch - 1)];
  await assert.rejects(net.asker.protocol.queryPeer(liar, range), { message: /outside the range/ });
  assert.equal(net.asker.catalog.listEpochs(stream.streamId, 0, epoch + 10).length, 0);
});

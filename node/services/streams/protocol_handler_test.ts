import assert from "node:assert/strict";
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
} from "../../../protocol/streams.ts";
import { makeStream } from "./epochs_fixtures_test.ts";
import { answerWith, CHAIN_ID, startProtocolHosts } from "./protocol_fixtures_test.ts";

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
  await using net = await startProtocolHosts(3);
  const [server, asker] = net.hosts;
  const gateway = privateKeyToAccount(generatePrivateKey());
  const stream = await makeStream({
    gateway,
    publisherPeer: server.peerId,
    chainId: CHAIN_ID,
  });
  const first = epochOf(Date.now(), 2) - 20;
  await server.catalog.publishAnnouncement(stream.announcement);
  for (let e = first; e < first + 10; e++) {
    assert.equal(
      (await server.catalog.ingestSealed(await sealed(gateway, stream.streamId, e))).result,
      "accept",
    );
  }
  // The asker does not know the stream yet: nothing it is sent can be checked, so nothing is stored.
  assert.deepEqual(
    await asker.protocol.queryPeer(server.peerId, { streamId: stream.streamId, from: first, to: first + 3 }),
    { received: 4, stored: 0 },
  );
  await asker.catalog.publishAnnouncement(stream.announcement);
  assert.deepEqual(
    await asker.protocol.queryPeer(server.peerId, {
      streamId: stream.streamId,
      from: first + 2,
      to: first + 4,
    }),
    { received: 3, stored: 3 },
  );
  assert.deepEqual(asker.catalog.listEpochs(stream.streamId, 0, first + 100).map((e) => e.epoch), [
    first + 2,
    first + 3,
    first + 4,
  ]);
  // queryPeers asks until the range is covered.
  assert.equal(
    await asker.protocol.queryPeers({ streamId: stream.streamId, from: first, to: first + 9 }),
    7,
  );
  assert.equal(asker.catalog.listEpochs(stream.streamId, first, first + 9).length, 10);
  // A stream the server does not know is refused.
  const other = await makeStream({ gateway, publisherPeer: server.peerId, chainId: CHAIN_ID });
  await assert.rejects(
    asker.protocol.queryPeer(server.peerId, { streamId: other.streamId, from: 0, to: 1 }),
    { name: "EpochQueryError", message: /unknown-stream/ },
  );
});

Deno.test("an asker stores nothing from a peer that answers with forged or out-of-range epochs", async () => {
  await using net = await startProtocolHosts(3);
  const [server, asker, liar] = net.hosts;
  const gateway = privateKeyToAccount(generatePrivateKey());
  const mallory = privateKeyToAccount(generatePrivateKey());
  const stream = await makeStream({
    gateway,
    publisherPeer: server.peerId,
    chainId: CHAIN_ID,
  });
  await asker.catalog.publishAnnouncement(stream.announcement);
  const epoch = epochOf(Date.now(), 2) - 5;
  let answer: EpochSealed[] = [];
  await answerWith(liar, (request) => {
    decodeEpochQueryRequest(request);
    return encodeEpochQueryResponse({ v: 1, epochs: answer });
  });
  const range = { streamId: stream.streamId, from: epoch, to: epoch };

  // Signed by someone other than the stream's gateway.
  answer = [await sealed(mallory, stream.streamId, epoch)];
  await assert.rejects(asker.protocol.queryPeer(liar.peerId, range), {
    name: "EpochQueryError",
    message: /invalid/,
  });
  // The gateway's own signature over one field, another field altered.
  const genuine = await sealed(gateway, stream.streamId, epoch);
  answer = [{ ...genuine, rows: 9 }];
  await assert.rejects(asker.protocol.queryPeer(liar.peerId, range), { name: "EpochQueryError" });
  // A genuine record, but of an epoch not asked for.
  answer = [await sealed(gateway, stream.streamId, epoch - 1)];
  await assert.rejects(asker.protocol.queryPeer(liar.peerId, range), { message: /outside the range/ });
  assert.equal(asker.catalog.listEpochs(stream.streamId, 0, epoch + 10).length, 0);
});

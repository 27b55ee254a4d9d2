import assert from "node:assert/strict";
import { join } from "node:path";
import * as dagCbor from "@ipld/dag-cbor";
import { lpStream, streamPair } from "@libp2p/utils";
import type { Stream } from "@libp2p/interface";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  ANNOUNCEMENT_DOMAIN,
  ANNOUNCEMENT_TYPES,
  encodeAnnouncement,
  signAnnouncement,
  toTypedMessage,
} from "../../../protocol/announcement.ts";
import { openDatabase } from "../db/mod.ts";
import { CatalogStore } from "./store.ts";
import { ingestAnnouncement } from "./validate.ts";
import {
  decodeSyncFrame,
  decodeSyncRequest,
  encodeSyncFrame,
  MAX_SYNC_BATCH,
  MAX_SYNC_FRAME_BYTES,
  requestSync,
  serveSync,
  SyncProtocolError,
} from "./sync.ts";
import { makeBody } from "./fixtures_test.ts";
import { tempDir } from "../../../tests/helpers.ts";

const seller = privateKeyToAccount(generatePrivateKey());
const mallory = privateKeyToAccount(generatePrivateKey());

function openStore(dir: string, name: string) {
  const db = openDatabase(join(dir, `${name}.db`));
  return { db, store: new CatalogStore(db) };
}

function sourceOf(store: CatalogStore) {
  return {
    epoch: store.epoch,
    readChanges: (cursor: number, o: { limit: number; maxBytes: number }) =>
      store.readChanges(cursor, { ...o, notBefore: 0 }),
  };
}

async function signed(patch = {}) {
  return encodeAnnouncement(await signAnnouncement(seller, await makeBody(seller.address, patch)));
}

async function add(store: CatalogStore, bytes: Uint8Array) {
  assert.equal((await ingestAnnouncement(store, bytes)).result, "accept");
}

/** A responder that answers any request with `frames`, written raw and length-prefixed. */
async function malicious(stream: Stream, frames: Uint8Array[], options: { close?: boolean } = {}) {
  const lp = lpStream(stream);
  await lp.read();
  for (const frame of frames) await lp.write(frame);
  if (options.close !== false) await stream.close().catch(() => {});
}

Deno.test("serveSync() and requestSync() copy a catalog in pages and then only what changed", async () => {
  await using dir = await tempDir();
  const a = openStore(dir.path, "a");
  const b = openStore(dir.path, "b");
  for (let i = 0; i < 5; i++) await add(a.store, await signed({ title: `listing ${i}` }));
  const ingest = (bytes: Uint8Array) => ingestAnnouncement(b.store, bytes);
  let cursor = { epoch: null as string | null, cursor: 0 };
  const pages: number[] = [];
  for (let more = true; more;) {
    const [out, inc] = await streamPair();
    const [done] = await Promise.all([
      requestSync(out, { ...cursor, limit: 2 }, { onAnnouncement: ingest }),
      serveSync(inc, sourceOf(a.store)),
    ]);
    pages.push(done.accepted);
    cursor = { epoch: done.epoch, cursor: done.cursor };
    more = done.more;
  }
  assert.deepEqual(pages, [2, 2, 1]);
  assert.equal(b.store.count(), 5);
  await add(a.store, await signed({ title: "late" }));
  const [out, inc] = await streamPair();
  const [done] = await Promise.all([
    requestSync(out, { ...cursor, limit: 10 }, { onAnnouncement: ingest }),
    serveSync(inc, sourceOf(a.store)),
  ]);
  assert.deepEqual([done.accepted, done.ignored, done.more], [1, 0, false]);
  const [out2, inc2] = await streamPair();
  const [fresh] = await Promise.all([
    requestSync(out2, { epoch: "another-epoch", cursor: 999, limit: 10 }, { onAnnouncement: ingest }),
    serveSync(inc2, sourceOf(a.store)),
  ]);
  assert.deepEqual([fresh.accepted, fresh.ignored], [0, 6], "a cursor from another epoch starts over");
  a.db.close();
  b.db.close();
});

Deno.test("requestSync() rejects a malicious responder's bad frames and indexes nothing invalid", async () => {
  await using dir = await tempDir();
  const { db, store } = openStore(dir.path, "victim");
  const body = await makeBody(seller.address);
  const forgedSignature = await mallory.signTypedData({
    domain: ANNOUNCEMENT_DOMAIN,
    types: ANNOUNCEMENT_TYPES,
    primaryType: "Announcement",
    message: toTypedMessage(body),
  });
  const forged = dagCbor.encode({ ...body, signature: forgedSignature });
  const future = Date.now() + 3_600_000;
  const farFuture = encodeAnnouncement(
    await signAnnouncement(seller, { ...body, timestamp: future }, { now: future }),
    { now: future },
  );
  const good = await signed({ title: "good" });
  const done = encodeSyncFrame({ done: { epoch: "e", cursor: 1, more: false } });
  const frame = (announcement: Uint8Array) => encodeSyncFrame({ announcement });
  const cases: [string, Uint8Array[], RegExp, { close?: boolean; limit?: number }?][] = [
    ["a forged announcement", [frame(good), frame(forged), done], /not the seller/],
    ["a far-future announcement", [frame(farFuture), done], /in the future/],
    [
      "a malformed announcement",
      [frame(new Uint8Array([1, 2, 3])), done],
      /Cannot accept synced announcement/,
    ],
    ["a frame that is not CBOR", [new Uint8Array([0xff, 0x00])], /not DAG-CBOR/],
    ["a frame of the wrong shape", [dagCbor.encode({ announcement: "text" })], /bad fields/],
    ["a bad done frame", [dagCbor.encode({ done: { epoch: "", cursor: -1, more: 1 } })], /bad fields/],
    ["a frame over the size limit", [new Uint8Array(MAX_SYNC_FRAME_BYTES + 1)], /too long/],
    [
      "more frames than asked for",
      [frame(good), frame(good), frame(good), done],
      /more than 2 announcements/,
      {
        limit: 2,
      },
    ],
    ["no done frame", [frame(good)], /Cannot read sync response/],
  ];
  for (const [name, frames, error, options = {}] of cases) {
    const [out, inc] = await streamPair();
    const served = malicious(inc, frames, options).catch(() => {});
    await assert.rejects(
      requestSync(out, { epoch: null, cursor: 0, limit: options.limit ?? MAX_SYNC_BATCH }, {
        onAnnouncement: (bytes) => ingestAnnouncement(store, bytes),
        signal: AbortSignal.timeout(5000),
      }),
      (err: Error) => {
        assert.ok(err instanceof SyncProtocolError, `${name}: ${err}`);
        assert.match(err.message, error, name);
        return true;
      },
    );
    await served;
  }
  const listings = store.listListings({ empty: false, sort: "newest", limit: 100, offset: 0 }).listings;
  assert.deepEqual(listings.map((l) => l.title), ["good"], "only the valid announcement was indexed");
  db.close();
});

Deno.test("decodeSyncRequest() and decodeSyncFrame() accept only their exact shapes", () => {
  assert.deepEqual(decodeSyncRequest(dagCbor.encode({ v: 1, epoch: null, cursor: 0, limit: 5 })), {
    v: 1,
    epoch: null,
    cursor: 0,
    limit: 5,
  });
  for (
    const bad of [
      { v: 2, epoch: null, cursor: 0, limit: 5 },
      { v: 1, epoch: null, cursor: -1, limit: 5 },
      { v: 1, epoch: null, cursor: 0, limit: 0 },
      { v: 1, epoch: "x".repeat(65), cursor: 0, limit: 5 },
      { v: 1, epoch: null, cursor: 0, limit: 5, extra: true },
      { v: 1, cursor: 0, limit: 5 },
    ]
  ) assert.throws(() => decodeSyncRequest(dagCbor.encode(bad)), SyncProtocolError);
  assert.throws(() => decodeSyncRequest(new Uint8Array(600)), /too large/);
  assert.throws(
    () => decodeSyncFrame(dagCbor.encode({ announcement: new Uint8Array(1), done: {} })),
    SyncProtocolError,
  );
});

/**
 * fast-check arbitraries for the protocol formats, shared by the property
 * tests of this folder (a helper with no tests of its own; manifest_test.ts
 * and announcement_test.ts check that every generated value is valid).
 */
import fc from "fast-check";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { bytesToHex } from "viem";
import type { AnnouncementBody } from "./announcement.ts";
import { type Address, type ManifestCid, RAW_CODE, SHA2_256_CODE, toAddress } from "./ids.ts";
import { CATEGORIES, type Cell, type Column, COLUMN_TYPES, FORMATS, type Manifest } from "./manifest.ts";
import type { Hash } from "./merkle.ts";

export const hashArb: fc.Arbitrary<Hash> = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) =>
  bytesToHex(b)
);
export const addressArb: fc.Arbitrary<Address> = fc.uint8Array({ minLength: 20, maxLength: 20 })
  .map((b) => toAddress(bytesToHex(b)));
export const rawCidArb: fc.Arbitrary<CID> = fc.uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => CID.createV1(RAW_CODE, Digest.create(SHA2_256_CODE, b)));
export const manifestCidArb: fc.Arbitrary<ManifestCid> = fc.uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => CID.createV1(0x71, Digest.create(SHA2_256_CODE, b)).toString() as ManifestCid);
export const priceArb = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }).map(String);
export const timeArb = fc.integer({ min: 0, max: 4_102_444_800_000 });

const cellArb: fc.Arbitrary<Cell> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x)),
  fc.string({ maxLength: 40 }),
);

export const schemaAndPreviewArb: fc.Arbitrary<{ schema: Column[]; preview: Cell[][] }> = fc
  .uniqueArray(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 8 })
  .chain((names) =>
    fc.record({
      schema: fc.tuple(
        ...names.map((name) => fc.constantFrom(...COLUMN_TYPES).map((type) => ({ name, type }))),
      ),
      preview: fc.array(fc.tuple(...names.map(() => cellArb)), { maxLength: 5 }),
    })
  )
  .map(({ schema, preview }) => ({ schema: [...schema], preview: preview.map((row) => [...row]) }));

export const manifestArb: fc.Arbitrary<Manifest> = fc.record({
  chunkSize: fc.integer({ min: 1024, max: 16 * 1024 * 1024 }),
  chunkCount: fc.integer({ min: 1, max: 6 }),
  lastChunk: fc.integer({ min: 1, max: 1024 }),
  chunkCids: fc.array(rawCidArb, { minLength: 6, maxLength: 6 }),
  title: fc.string({ minLength: 1, maxLength: 200 }),
  description: fc.string({ maxLength: 300 }),
  category: fc.constantFrom(...CATEGORIES),
  createdAt: timeArb,
  seller: addressArb,
  gateway: addressArb,
  price: priceArb,
  licence: fc.record({ id: fc.string({ minLength: 1, maxLength: 64 }), text: fc.string({ minLength: 1 }) }, {
    requiredKeys: ["id"],
  }),
  format: fc.constantFrom(...FORMATS),
  filename: fc.option(fc.stringMatching(/^[a-z0-9_-]{1,20}\.(csv|json|ndjson)$/), { nil: undefined }),
  merkleRoot: hashArb,
  dekCommit: hashArb,
  rowCount: fc.nat(),
  sp: schemaAndPreviewArb,
  timeRange: fc.option(
    fc.tuple(timeArb, timeArb).map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) })),
    { nil: undefined },
  ),
  privacy: fc.record({
    k: fc.integer({ min: 1, max: 1000 }),
    epsilon: fc.double({ min: 0.01, max: 10, noNaN: true }),
    unit: fc.constant("person" as const),
    days: fc.integer({ min: 1, max: 366 }),
    delta: fc.constantFrom(0, 1e-6, 1e-9, 1e-3),
  }, {
    requiredKeys: [],
  }),
  consent: fc.array(fc.string({ minLength: 1, maxLength: 64 }), { maxLength: 4 }),
}).map((r) => {
  const m: Manifest = {
    v: 1,
    title: r.title,
    description: r.description,
    category: r.category,
    createdAt: r.createdAt,
    seller: r.seller,
    gateway: r.gateway,
    price: r.price,
    licence: { ...r.licence },
    format: r.format,
    contentType: r.format === "csv" ? "text/csv" : "application/json",
    chunkSize: r.chunkSize,
    byteLength: (r.chunkCount - 1) * r.chunkSize + r.lastChunk,
    chunks: r.chunkCids.slice(0, r.chunkCount),
    merkleRoot: r.merkleRoot,
    dekCommit: r.dekCommit,
    rowCount: r.rowCount,
    schema: r.sp.schema,
    preview: r.sp.preview,
    privacy: { ...r.privacy },
    consent: r.consent,
  };
  if (r.filename !== undefined) m.filename = r.filename;
  if (r.timeRange !== undefined) m.timeRange = r.timeRange;
  return m;
});

export function announcementBodyArb(now: number): fc.Arbitrary<AnnouncementBody> {
  return fc.record({
    manifestCid: manifestCidArb,
    title: fc.string({ minLength: 1, maxLength: 200 }),
    description: fc.string({ maxLength: 300 }),
    category: fc.constantFrom(...CATEGORIES),
    price: priceArb,
    gateway: addressArb,
    byteLength: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    rowCount: fc.nat(),
    chunkCount: fc.integer({ min: 1, max: 65_536 }),
    sp: schemaAndPreviewArb,
    licence: fc.string({ minLength: 1, maxLength: 64 }),
    times: fc.tuple(fc.integer({ min: 0, max: now }), fc.integer({ min: 0, max: now })),
    providers: fc.array(fc.stringMatching(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/), { maxLength: 3 }),
  }).map((r) => ({
    v: 1 as const,
    manifestCid: r.manifestCid,
    title: r.title,
    description: r.description,
    category: r.category,
    price: r.price,
    seller: "0x0000000000000000000000000000000000000000" as Address,
    gateway: r.gateway,
    byteLength: r.byteLength,
    rowCount: r.rowCount,
    chunkCount: r.chunkCount,
    schema: r.sp.schema,
    preview: r.sp.preview,
    licence: r.licence,
    createdAt: Math.min(...r.times),
    timestamp: Math.max(...r.times),
    providers: r.providers,
  }));
}

/**
 * The fuzz suite's shared parts: how many inputs each target gets, the one
 * property every decoder must keep, and fast-check arbitraries that turn a
 * valid encoding into hostile ones.
 *
 * The property ("a clean rejection"): a decoder given any bytes either
 * returns a value that validates again, or throws a `TypeError`, a
 * `RangeError` or one of the node's `KosmosError`s with a short, non-empty
 * message that carries no stack trace — never another throwable, never
 * after more than {@link MAX_DECODE_MS}.
 *
 * ```ts
 * await fc.assert(fc.asyncProperty(hostileBytes(valid), (bytes) => expectClean(() => decode(bytes))),
 *   { numRuns: FUZZ_RUNS.saleRequest.decoder });
 * ```
 *
 * {@link FUZZ_RUNS} is the table the README quotes; `fuzzTotal()` adds it up.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as dagCbor from "@ipld/dag-cbor";
import { KosmosError } from "../../node/errors.ts";

/**
 * Generated inputs per target. `decoder`: arbitrary bytes, structured
 * DAG-CBOR/JSON with wrong fields and mutations of valid encodings, split
 * evenly; `stream`: bad frames sent to the real handler over a real libp2p
 * stream between two in-process nodes; `api`: request bodies per route.
 */
export const FUZZ_RUNS = {
  announcement: { decoder: 3000, stream: 0 },
  catalogSync: { decoder: 2000, stream: 400 },
  manifest: { decoder: 2000, stream: 0 },
  saleRequest: { decoder: 2000, stream: 600 },
  saleResponse: { decoder: 2000, stream: 0 },
  delegateRequest: { decoder: 2000, stream: 600 },
  delegateResponse: { decoder: 1500, stream: 0 },
  disputeEvidence: { decoder: 1500, stream: 0 },
  chunkRequest: { decoder: 2000, stream: 600 },
  ingestNotice: { decoder: 2000, stream: 600 },
  ingestReply: { decoder: 1500, stream: 0 },
  sealedBatch: { decoder: 2000, stream: 400 },
  sealedEvents: { decoder: 600, stream: 0 },
  siteAnnouncement: { decoder: 2000, stream: 0 },
  siteProof: { decoder: 1500, stream: 0 },
  syncFromHostilePeer: { decoder: 0, stream: 400 },
  eventPayload: { decoder: 2000, stream: 0 },
  poolAnnouncement: { decoder: 1500, stream: 0 },
  poolRequest: { decoder: 1500, stream: 0 },
  poolResponse: { decoder: 1500, stream: 0 },
  streamManifest: { decoder: 1500, stream: 0 },
  streamTopicMessage: { decoder: 2000, stream: 0 },
  streamsTopicMessage: { decoder: 1500, stream: 0 },
  streamSaleRequest: { decoder: 1500, stream: 0 },
  streamSaleResponse: { decoder: 1000, stream: 0 },
  epochQuery: { decoder: 1500, stream: 0 },
  streamList: { decoder: 1000, stream: 0 },
  readingLines: { decoder: 1500, stream: 0 },
  readingInput: { decoder: 2000, stream: 0 },
} as const;

/** Request bodies sent to each API route that accepts a body (see `api_test.ts`). */
export const API_RUNS_PER_ROUTE = 500;
/** Requests to routes that take no body (they act on what the path names). */
export const API_RUNS_NO_BODY = 60;

/** Inputs the decoder and stream tests generate, from {@link FUZZ_RUNS}. */
export function fuzzTotal(): { decoder: number; stream: number } {
  const rows = Object.values(FUZZ_RUNS);
  return {
    decoder: rows.reduce((n, r) => n + r.decoder, 0),
    stream: rows.reduce((n, r) => n + r.stream, 0),
  };
}

/** Longest time one decode may take, ms (a generous bound on a shared 2-core machine). */
export const MAX_DECODE_MS = 250;
/** Longest acceptable error message: enough to name the field, never an echo of the input. */
export const MAX_MESSAGE_LENGTH = 600;

/** Fails unless `err` is a clean rejection (see the module doc). */
export function assertCleanError(err: unknown, what: string): void {
  if (!(err instanceof TypeError || err instanceof RangeError || err instanceof KosmosError)) {
    assert.fail(
      `${what} threw ${describeThrown(err)}; expected a TypeError, RangeError or KosmosError`,
    );
  }
  const message = err.message;
  assert.ok(message.trim().length > 0, `${what} threw a ${err.name} with an empty message`);
  assert.ok(
    message.length <= MAX_MESSAGE_LENGTH,
    `${what} threw a ${message.length}-character message: ${message.slice(0, 120)}…`,
  );
  assert.ok(!/\n\s+at /.test(message), `${what} put a stack trace in its message: ${message.slice(0, 200)}`);
}

function describeThrown(err: unknown): string {
  if (err instanceof Error) return `${err.constructor.name} "${err.message.slice(0, 200)}"`;
  return `a non-Error (${typeof err}: ${String(err).slice(0, 100)})`;
}

/**
 * Runs one decode: returns its value, or `undefined` when it threw a clean
 * rejection. Anything else, or a decode slower than {@link MAX_DECODE_MS},
 * fails. Async decoders are also raced against that limit.
 */
export async function expectClean<T>(
  what: string,
  decode: () => T | Promise<T>,
  options: { maxMs?: number } = {},
): Promise<T | undefined> {
  const maxMs = options.maxMs ?? MAX_DECODE_MS;
  const start = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const value = await Promise.race([
      Promise.resolve().then(decode),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new HangError(`${what} did not finish within ${maxMs} ms`)), maxMs);
      }),
    ]);
    return value;
  } catch (err) {
    if (err instanceof HangError) assert.fail(err.message);
    assertCleanError(err, what);
    return undefined;
  } finally {
    clearTimeout(timer);
    const took = performance.now() - start;
    assert.ok(took <= maxMs, `${what} took ${took.toFixed(0)} ms (limit ${maxMs} ms)`);
  }
}

class HangError extends Error {}

// ---------------------------------------------------------------- arbitraries

/** Bit flips, byte overwrites, truncation, extension, splices and duplications of `valid`. */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("extend" as const), tail: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ maxLength: 16 }),
    }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant("duplicate" as const) }),
  );
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => {
    let out: Uint8Array = Uint8Array.from(bytes);
    for (const e of edits) {
      const at = out.length === 0 ? 0 : ("at" in e ? e.at % out.length : 0);
      switch (e.kind) {
        case "flip":
          if (out.length) out[at] ^= 1 << e.bit;
          break;
        case "set":
          if (out.length) out[at] = e.byte;
          break;
        case "truncate":
          out = out.slice(0, at);
          break;
        case "extend":
          out = concat(out, e.tail);
          break;
        case "insert":
          out = concat(out.slice(0, at), e.bytes, out.slice(at));
          break;
        case "delete":
          out = concat(out.slice(0, at), out.slice(at + e.count));
          break;
        case "duplicate":
          out = concat(out, out);
          break;
      }
    }
    return out;
  });
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/**
 * CBOR heads that declare huge lengths or deep nesting with little data
 * behind them: what a decoder must refuse without allocating what they claim.
 */
export const cborBombs: fc.Arbitrary<Uint8Array> = fc.oneof(
  // byte string, text string, array, map of 2^32−1 or 2^64−1 entries
  fc.constantFrom(0x5a, 0x7a, 0x9a, 0xba).map((major) => Uint8Array.of(major, 0xff, 0xff, 0xff, 0xff, 1, 2)),
  fc.constantFrom(0x5b, 0x7b, 0x9b, 0xbb).map((major) =>
    Uint8Array.of(major, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0)
  ),
  // arrays nested thousands deep
  fc.integer({ min: 100, max: 5000 }).map((depth) => new Uint8Array(depth).fill(0x81)),
  // maps nested deep: { "": { "": … } }
  fc.integer({ min: 100, max: 2000 }).map((depth) => {
    const out = new Uint8Array(depth * 2);
    for (let i = 0; i < depth; i++) out.set([0xa1, 0x60], i * 2);
    return out;
  }),
  // indefinite lengths, undefined, NaN, tags other than 42, a CID tag on garbage
  fc.constantFrom(
    Uint8Array.of(0x9f, 0x01, 0xff),
    Uint8Array.of(0xbf, 0x61, 0x61, 0x01, 0xff),
    Uint8Array.of(0xf7),
    Uint8Array.of(0xf9, 0x7e, 0x00),
    Uint8Array.of(0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0),
    Uint8Array.of(0xc1, 0x01),
    Uint8Array.of(0xd8, 0x2a, 0x45, 0x00, 0x01, 0x02, 0x03, 0x04),
    Uint8Array.of(0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02),
  ),
);

/** Any JSON-like value, with big numbers, long strings and nesting mixed in. */
export const wildValue: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: "small" },
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    true,
    0,
    -1,
    1.5,
    Number.MAX_SAFE_INTEGER + 2,
    -Number.MAX_VALUE,
    1e308,
    "",
    "0x",
    "__proto__",
    "constructor",
    [],
    {},
  ),
  fc.string({ minLength: 1000, maxLength: 5000 }),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.integer({ min: 2, max: 200 }).map((depth) => nest(depth)),
);

/** `[[[…]]]` nested `depth` deep. */
export function nest(depth: number): unknown {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/**
 * Variants of a valid object: one field replaced by a wild value, a field
 * removed, an unknown field added, the whole value replaced, or an array of it.
 */
export function wrongFields(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc.tuple(valid, fc.nat(), wildValue, fc.string({ maxLength: 20 }), fc.nat({ max: 5 })).map(
    ([value, pick, wild, key, how]) => {
      const keys = Object.keys(value);
      const field = keys[pick % Math.max(1, keys.length)];
      const copy: Record<string, unknown> = { ...value };
      switch (how) {
        case 0:
        case 1:
          if (field !== undefined) copy[field] = wild;
          return copy;
        case 2:
          if (field !== undefined) delete copy[field];
          return copy;
        case 3:
          copy[keys.includes(key) ? `${key}_extra` : key] = wild;
          return copy;
        case 4:
          return wild;
        default:
          return [value];
      }
    },
  );
}

/** DAG-CBOR of `value`, or of a marker when DAG-CBOR cannot encode it (e.g. a non-integer above 2^53). */
export function toCbor(value: unknown): Uint8Array {
  try {
    return dagCbor.encode(value);
  } catch {
    return dagCbor.encode({ unencodable: String(value).slice(0, 40) });
  }
}

export function toJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value) ?? "null");
}

/**
 * One of: arbitrary bytes, CBOR bombs, `structured` (wrong fields, encoded),
 * `mutated` valid encodings, and now and then a valid encoding untouched (so
 * the accepting path, and its re-validation, runs too).
 */
export function hostileBytes(
  valid: fc.Arbitrary<Uint8Array>,
  structured: fc.Arbitrary<Uint8Array>,
): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 512 }),
    cborBombs,
    structured,
    structured,
    mutatedBytes(valid),
    mutatedBytes(valid),
    valid,
  );
}

/**
 * fast-check parameters for `numRuns` inputs; `FUZZ_SEED` in the environment
 * replays a failure that fast-check reported with its seed.
 */
export function fuzzParams(numRuns: number): fc.Parameters<unknown> {
  const seed = Deno.env.get("FUZZ_SEED");
  return { numRuns, endOnFailure: true, ...(seed ? { seed: Number(seed) } : {}) };
}

/** The table of {@link FUZZ_RUNS} in Markdown, for the README: `deno run tests/fuzz/mod.ts`. */
export function formatFuzzTable(): string {
  const rows = Object.entries(FUZZ_RUNS).map(([target, r]) => `| ${target} | ${r.decoder} | ${r.stream} |`);
  const total = fuzzTotal();
  return [
    "| Target | Decoder inputs | Stream exchanges |",
    "| --- | ---: | ---: |",
    ...rows,
    `| **total** | **${total.decoder}** | **${total.stream}** |`,
    "",
    `API: ${API_RUNS_PER_ROUTE} bodies per route that takes one, ${API_RUNS_NO_BODY} per body-less route, ` +
    `${API_RUNS_PER_ROUTE * 3} requests without the token.`,
  ].join("\n");
}

if (import.meta.main) console.log(formatFuzzTable());

/**
 * Which watched datasets a node could be asked to replicate, found without
 * visiting every dataset it watches.
 *
 * Keys are 256-bit (see `distance.ts`). Group the other candidate nodes by
 * the length of the prefix their key shares with this node's key (their
 * "level"). Take a dataset key `d` sharing exactly `j` leading bits with this
 * node. A candidate at level `j` agrees with this node on the first `j` bits
 * and differs at bit `j`, as `d` does, so it is closer to `d`. A candidate at
 * a level below `j` differs from `d` at a bit where this node agrees, so it is
 * farther. A candidate at a deeper level `i` ties with this node up to bit
 * `i` and is closer exactly when this node differs from `d` at bit `i`. So
 * this node's rank among the candidates for `d` (0 = closest) is the number
 * at level `j` plus those at the deeper levels where `d` and this node differ:
 * a few additions, no sort.
 *
 * The rank is at least the number at level `j`, so every dataset for which
 * this node ranks below `k` has its key in one of these contiguous ranges:
 * for each level `j` holding fewer than `k` candidates, the keys whose first
 * `j` bits are this node's and bit `j` is not (one range per level, all the
 * deep levels in one). With `n` candidates about `n / 2^(j+1)` sit at level
 * `j`, so the ranges hold a few times `k / n` of all datasets: a node visits
 * its share of the network's datasets, not all of them.
 *
 * ```ts
 * const hood = new Neighbourhood(selfKey, otherKeys);
 * hood.rankOf(datasetKey);       // 0 when this node is the closest candidate
 * hood.ranges(6);                // [["3f00…", "3fff…"], …]: keys where the rank is below 6
 * ```
 */
import { createHash } from "node:crypto";

const BITS = 256;

/** The 32-byte key of a dataset as lowercase hex (sha256 of its manifest CID bytes, as `datasetKey`). */
export function datasetKeyHex(cidBytes: Uint8Array): string {
  return createHash("sha256").update(cidBytes).digest("hex");
}

/** How many leading bits `a` and `b` share (256 when equal). */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.byteLength; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return a.byteLength * 8;
}

export class Neighbourhood {
  readonly #self: Uint8Array;
  /** Candidates other than this node by level (the prefix length they share with it); 257 entries. */
  readonly #levels: number[];
  /** The deepest level holding a candidate (-1 when none does). */
  readonly #deepest: number;

  /** `self`: this node's key; `others`: the keys of the other candidates (this node's own key is skipped). */
  constructor(self: Uint8Array, others: Iterable<Uint8Array>) {
    if (self.byteLength !== BITS / 8) throw new RangeError(`Cannot rank by a ${self.byteLength}-byte key`);
    this.#self = self;
    this.#levels = new Array(BITS + 1).fill(0);
    for (const key of others) {
      const level = commonPrefixLength(self, key);
      if (level < BITS) this.#levels[level]++;
    }
    this.#deepest = this.#levels.findLastIndex((count) => count > 0);
  }

  /** This node's rank among the candidates for the dataset `key` (0 = closest). */
  rankOf(key: Uint8Array): number {
    const j = commonPrefixLength(this.#self, key);
    let rank = this.#levels[j];
    for (let i = j + 1; i <= this.#deepest; i++) {
      if (((this.#self[i >> 3] ^ key[i >> 3]) >> (7 - (i & 7))) & 1) rank += this.#levels[i];
    }
    return rank;
  }

  /**
   * Disjoint inclusive ranges of dataset keys (64-digit lowercase hex) that
   * hold every key for which this node ranks below `k` (and some for which it
   * does not: {@link rankOf} decides for each).
   */
  ranges(k: number): [string, string][] {
    const levels = this.#levels;
    let deep = BITS;
    while (deep > 0 && levels[deep - 1] < k) deep--;
    const out: [string, string][] = [];
    for (let j = 0; j < deep; j++) {
      if (levels[j] < k) out.push(this.#range(j + 1, j));
    }
    out.push(this.#range(deep));
    return out;
  }

  /** Keys sharing this node's first `prefix` bits (with bit `flip` inverted, when given). */
  #range(prefix: number, flip?: number): [string, string] {
    const lo = Uint8Array.from(this.#self);
    if (flip !== undefined) lo[flip >> 3] ^= 0x80 >> (flip & 7);
    const hi = Uint8Array.from(lo);
    if (prefix < BITS) {
      const i = prefix >> 3;
      const keep = (0xff << (8 - (prefix & 7))) & 0xff;
      lo[i] &= keep;
      hi[i] |= ~keep & 0xff;
      lo.fill(0, i + 1);
      hi.fill(0xff, i + 1);
    }
    return [toHex(lo), toHex(hi)];
  }
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Reward distributions on `KosmosRewards`, derived from chain events so that
 * anyone can recompute them: a pool sale's seller share minus the operator's
 * fee split among the version's contributors pro rata to their rows
 * (`poolSaleLeaves`), a mining epoch's reward split pro rata to the rows sold
 * in that epoch (`epochLeaves`), and the Merkle tree the contract checks
 * claims against (`buildDistribution`).
 *
 * A leaf is `keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))))`,
 * inner nodes hash their two children sorted as bytes (OpenZeppelin's
 * `MerkleProof`, the same convention as `merkle.ts`); leaves are ordered by
 * address and `index` is that position.
 *
 * ```ts
 * const { total, leaves } = poolSaleLeaves({ toSeller, feeBps: 500, contributors, rows });
 * const { root, leaves: claims } = buildDistribution(leaves);
 * // operator: KosmosPools.distributeSale(saleId, root, total)
 * // contributor: KosmosRewards.claim(distributionId, c.index, c.account, c.amount, c.proof)
 * ```
 */
import { encodeAbiParameters, getAddress, isAddress, keccak256 } from "viem";
import type { Address } from "./ids.ts";
import type { Hash } from "./merkle.ts";

/** The largest operator fee a pool accepts, in basis points (50 %). */
export const MAX_POOL_FEE_BPS = 5000;
/** The most contributors one pool version may have (checked by `KosmosPools`). */
export const MAX_VERSION_CONTRIBUTORS = 256;

const UINT256_MAX = 2n ** 256n - 1n;

/** One account's rows: the weight of its share. */
export interface RowShare {
  account: `0x${string}`;
  rows: bigint;
}

/** What one account is owed. */
export interface RewardAmount {
  account: Address;
  amount: bigint;
}

/** One leaf of a distribution, with everything `KosmosRewards.claim` takes. */
export interface RewardLeaf extends RewardAmount {
  index: bigint;
  proof: Hash[];
}

export interface Distribution {
  root: Hash;
  /** Sum of every leaf's amount: the `total` the distribution must be funded with. */
  total: bigint;
  leaves: RewardLeaf[];
}

function toAccount(value: string, what: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    throw new TypeError(`Invalid ${what}: ${JSON.stringify(value)} is not an address`);
  }
  return getAddress(value) as Address;
}

function byAddress(a: { account: string }, b: { account: string }): number {
  const x = a.account.toLowerCase();
  const y = b.account.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function checkAmount(value: bigint, what: string): void {
  if (typeof value !== "bigint" || value < 0n || value > UINT256_MAX) {
    throw new RangeError(`Invalid ${what}: expected an integer in 0..2^256-1`);
  }
}

/**
 * Splits `total` among `shares` pro rata to their rows by largest remainder:
 * each account gets `floor(total * rows / sumRows)`, then the units left over
 * go one each to the largest remainders, ties to the lower address. The
 * amounts sum to exactly `total` (or to 0 when no account has rows). Rows of
 * one account listed several times are added up; accounts whose amount is 0
 * (no rows, or a share that rounds to nothing) are omitted. The result is
 * sorted by address.
 */
export function splitProRata(total: bigint, shares: readonly RowShare[]): RewardAmount[] {
  checkAmount(total, "total");
  const rowsOf = new Map<Address, bigint>();
  shares.forEach((s, i) => {
    const account = toAccount(s.account, `account of share ${i}`);
    checkAmount(s.rows, `rows of share ${i}`);
    rowsOf.set(account, (rowsOf.get(account) ?? 0n) + s.rows);
  });
  const entries = [...rowsOf].filter(([, rows]) => rows > 0n).map(([account, rows]) => ({ account, rows }));
  const sumRows = entries.reduce((sum, e) => sum + e.rows, 0n);
  if (sumRows === 0n) return [];
  const parts = entries.map((e) => ({
    account: e.account,
    amount: (total * e.rows) / sumRows,
    remainder: (total * e.rows) % sumRows,
  }));
  let left = total - parts.reduce((sum, p) => sum + p.amount, 0n);
  const order = [...parts].sort((a, b) =>
    a.remainder !== b.remainder ? (a.remainder > b.remainder ? -1 : 1) : byAddress(a, b)
  );
  for (const p of order) {
    if (left === 0n) break;
    p.amount += 1n;
    left -= 1n;
  }
  return parts
    .filter((p) => p.amount > 0n)
    .sort(byAddress)
    .map(({ account, amount }) => ({ account, amount }));
}

/** `keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))))`, as `KosmosRewards.claim` hashes it. */
export function hashRewardLeaf(index: bigint, account: `0x${string}`, amount: bigint): Hash {
  const encoded = encodeAbiParameters(
    [{ type: "uint256" }, { type: "address" }, { type: "uint256" }],
    [index, account, amount],
  );
  return keccak256(keccak256(encoded, "bytes"));
}

function hashPair(a: Hash, b: Hash): Hash {
  // Lowercase hex of equal length orders like the bytes it encodes.
  return keccak256(a < b ? `${a}${b.slice(2)}` : `${b}${a.slice(2)}`);
}

/** Every level of the sorted-pair tree, leaves first; a node without a sibling is carried up unchanged. */
function treeLevels(leaves: Hash[]): Hash[][] {
  const levels = [leaves];
  while (levels[levels.length - 1].length > 1) {
    const level = levels[levels.length - 1];
    const up: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) {
      up.push(i + 1 < level.length ? hashPair(level[i], level[i + 1]) : level[i]);
    }
    levels.push(up);
  }
  return levels;
}

/**
 * The Merkle distribution of `amounts`: leaves ordered by address, `index` =
 * position, each with its proof for OpenZeppelin's `MerkleProof`.
 * @throws {RangeError} when there is no leaf or an amount is out of range
 * @throws {TypeError} when an account is not an address or appears twice
 */
export function buildDistribution(
  amounts: readonly { account: `0x${string}`; amount: bigint }[],
): Distribution {
  if (amounts.length === 0) throw new RangeError("Cannot build a distribution: no leaves");
  const sorted = amounts.map((a, i) => {
    checkAmount(a.amount, `amount of leaf ${i}`);
    return { account: toAccount(a.account, `account of leaf ${i}`), amount: a.amount };
  }).sort(byAddress);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].account === sorted[i - 1].account) {
      throw new TypeError(`Cannot build a distribution: account ${sorted[i].account} appears twice`);
    }
  }
  const total = sorted.reduce((sum, a) => sum + a.amount, 0n);
  checkAmount(total, "total of the distribution");
  const levels = treeLevels(sorted.map((a, i) => hashRewardLeaf(BigInt(i), a.account, a.amount)));
  const leaves = sorted.map((a, i) => {
    const proof: Hash[] = [];
    let position = i;
    for (const level of levels.slice(0, -1)) {
      const sibling = position ^ 1;
      if (sibling < level.length) proof.push(level[sibling]);
      position >>= 1;
    }
    return { index: BigInt(i), account: a.account, amount: a.amount, proof };
  });
  return { root: levels[levels.length - 1][0], total, leaves };
}

export interface PoolSaleParameters {
  /** The seller's share of the sale (escrow `Completed.toSeller`). */
  toSeller: bigint;
  /** The pool's operator fee in basis points, 0..5000. */
  feeBps: number;
  /** The version's contributors (`VersionRegistered.contributors`). */
  contributors: readonly `0x${string}`[];
  /** Released rows per contributor, same order (`VersionRegistered.rows`). */
  rows: readonly bigint[];
}

export interface PoolSaleLeaves {
  /** The operator's fee: `toSeller * feeBps / 10000`, rounded down. */
  fee: bigint;
  /** What the contributors share: `toSeller - fee`, the `total` of `distributeSale`. */
  total: bigint;
  /** `total` split pro rata to rows; sums to `total` exactly. Empty when no contributor has rows. */
  leaves: RewardAmount[];
}

/** The distribution of one sale of a pool version, as `KosmosPools.distributeSale` checks its total. */
export function poolSaleLeaves({ toSeller, feeBps, contributors, rows }: PoolSaleParameters): PoolSaleLeaves {
  checkAmount(toSeller, "toSeller");
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > MAX_POOL_FEE_BPS) {
    throw new RangeError(`Invalid feeBps ${feeBps}: expected an integer in 0..${MAX_POOL_FEE_BPS}`);
  }
  if (contributors.length !== rows.length) {
    throw new RangeError(
      `Cannot split a sale: ${contributors.length} contributors but ${rows.length} row counts`,
    );
  }
  const fee = (toSeller * BigInt(feeBps)) / 10000n;
  const total = toSeller - fee;
  const leaves = splitProRata(total, contributors.map((account, i) => ({ account, rows: rows[i] })));
  return { fee, total, leaves };
}

export interface EpochSale {
  /** Contributors of the sold version (`VersionRegistered.contributors`). */
  contributors: readonly `0x${string}`[];
  /** Their rows, same order (`VersionRegistered.rows`). */
  rows: readonly bigint[];
}

export interface EpochLeavesParameters {
  /** The epoch's reward (`KosmosMining.epochReward(epoch)`). */
  reward: bigint;
  /** Every completed sale of a registered version in the epoch; a version sold twice appears twice. */
  sales: readonly EpochSale[];
}

export interface EpochLeaves {
  /** What the leaves sum to: `reward`, or 0 when no rows were sold (publish nothing then). */
  total: bigint;
  leaves: RewardAmount[];
}

/** A mining epoch's reward split pro rata to the rows each contributor had sold in the epoch. */
export function epochLeaves({ reward, sales }: EpochLeavesParameters): EpochLeaves {
  const shares: RowShare[] = [];
  sales.forEach((sale, s) => {
    if (sale.contributors.length !== sale.rows.length) {
      throw new RangeError(
        `Cannot split epoch sale ${s}: ${sale.contributors.length} contributors but ${sale.rows.length} row counts`,
      );
    }
    sale.contributors.forEach((account, i) => shares.push({ account, rows: sale.rows[i] }));
  });
  const leaves = splitProRata(reward, shares);
  return { total: leaves.reduce((sum, l) => sum + l.amount, 0n), leaves };
}

/**
 * Publishing a version of a pool this node operates: every member is asked for its rows at once (each
 * within `contributeTimeout`); refusals, silent members, rows of the wrong shape and members whose
 * consent is no longer valid on chain (read again here) go to `excluded` with the reason; the rest are
 * concatenated (the kind's released columns), published as a dataset with the combined privacy report
 * and the consents' references, listed and staked on the registry from this node's wallet, and
 * registered with `KosmosPools.registerVersion(poolId, listingId, contributors, rows)`.
 *
 * ```ts
 * const version = await publishVersion(x, "1", { signal }); // { listingId, manifestCid, contributors, excluded }
 * ```
 */
import { type Address, bytesToHex, type Hex } from "viem";
import { type Contribution, type PoolAnnouncement } from "../../../protocol/pools.ts";
import { SOURCE_KIND_INFO } from "../../../protocol/sources.ts";
import type { PrivacyReport } from "../../../protocol/manifest.ts";
import { NotFoundError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { BlockStore } from "../blocks/mod.ts";
import {
  type ChainService,
  cidToBytes,
  estimateCallFee,
  type FeeEstimate,
  getRegistryConfig,
  registerVersion,
  signPermit,
  stakeManifest,
} from "../chain/mod.ts";
import type { Datasets } from "../datasets/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import { encodeTableCsv } from "../privacy/mod.ts";
import { kosmosRegistryAbi } from "../../../protocol/contracts_generated.ts";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { sha256 } from "multiformats/hashes/sha2";
import { EmptyVersionError, NotPoolOperatorError } from "./errors.ts";
import { checkConsentOnChain, releasedColumns } from "./serve.ts";
import type { MemberRecord, PoolStore, VersionRecord } from "./store.ts";
import { askPeer } from "./wire.ts";

export interface VersionsContext {
  store: PoolStore;
  p2p: P2P;
  chain: ChainService;
  identity: Identity;
  datasets: Datasets;
  blocks: BlockStore;
  log: Logger;
  contributeTimeout: number;
}

export interface PublishVersionOptions {
  /** Tokens staked on the version's listing. @default the registry's minimum stake */
  stake?: bigint;
  signal?: AbortSignal;
  /** Called as members answer: how many answered of how many. */
  onProgress?: (answered: number, members: number) => void;
}

type Excluded = { address: Address; reason: string }[];

function ownPool(x: VersionsContext, poolId: string): PoolAnnouncement {
  const pool = x.store.getPool(poolId);
  if (!pool) throw new NotFoundError(`No pool ${poolId} known to this node`, { details: { poolId } });
  if (pool.terms.operator !== x.identity.account.address) {
    throw new NotPoolOperatorError(
      `Pool ${poolId} is operated by ${pool.terms.operator}, not this node's wallet`,
    );
  }
  return pool;
}

/** Asks every member for its rows and publishes, lists, stakes and registers the version. */
export async function publishVersion(
  x: VersionsContext,
  poolId: string,
  options: PublishVersionOptions = {},
): Promise<VersionRecord> {
  const pool = ownPool(x, poolId);
  const members = x.store.listMembers(poolId);
  if (members.length === 0) throw new EmptyVersionError(`Pool ${poolId} has no members yet`);
  const version = bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
  const { kept, excluded } = await gather(x, pool, members, version, options);
  if (kept.length === 0) {
    throw new EmptyVersionError(
      `Nothing to publish for pool ${poolId}: ${excluded.map((e) => `${e.address}: ${e.reason}`).join("; ")}`,
      { details: { excluded } },
    );
  }
  options.signal?.throwIfAborted();
  const { chain, datasets } = x;
  const columns = releasedColumns(pool.terms.kind);
  const rows = kept.flatMap((k) => k.contribution.rows);
  const published = await datasets.publishDataset(encodeTableCsv({ columns, rows: () => rows }), {
    title: pool.terms.title,
    description: pool.terms.description,
    category: SOURCE_KIND_INFO[pool.terms.kind].category,
    price: pool.terms.price,
    licence: pool.terms.licence,
    filename: `pool-${poolId}.csv`,
    contentType: "text/csv",
    privacy: combineReports(pool.terms.k, kept.map((k) => k.contribution.report)),
    consent: kept.map((k) =>
      `eip155:${chain.chainId}:${chain.client.contracts.consent}/${k.member.consentId}`
    ),
    signal: options.signal,
  });
  const stake = options.stake ?? (await getRegistryConfig(chain.client)).minStake;
  const { listingId } = await stakeManifest(
    x,
    { manifestCid: published.manifestCid, amount: stake },
    options,
  );
  const contributors = kept.map((k) => k.member.contributor);
  const counts = kept.map((k) => BigInt(k.contribution.count));
  const { txHash } = await chain.exclusive(() =>
    registerVersion(chain.client, {
      poolId: BigInt(poolId),
      listingId,
      contributors,
      rows: counts,
      signal: options.signal,
    })
  );
  const record: VersionRecord = {
    listingId,
    poolId,
    manifestCid: published.manifestCid,
    contributors: kept.map((k) => ({ address: k.member.contributor, rows: k.contribution.count })),
    excluded,
    rows: rows.length,
    txHash: txHash as Hex,
    createdAt: Date.now(),
  };
  x.store.addVersion(record);
  x.log.info("published a pool version", {
    poolId,
    listingId: listingId.toString(),
    manifestCid: record.manifestCid,
    contributors: contributors.length,
    excluded: excluded.length,
    rows: record.rows,
  });
  return record;
}

/**
 * What publishing would cost: the version's registry listing with its stake, as the node will send it
 * first, estimated for a dataset of the same shape (the manifest does not exist yet, and the gas does not
 * depend on its CID). The registration's own gas is known only once the listing exists. Asks nobody.
 */
export async function previewPublishVersion(
  x: VersionsContext,
  poolId: string,
  options: { stake?: bigint; signal?: AbortSignal } = {},
): Promise<{ members: number; fee: FeeEstimate }> {
  ownPool(x, poolId);
  const members = x.store.listMembers(poolId);
  if (members.length === 0) throw new EmptyVersionError(`Pool ${poolId} has no members yet`);
  options.signal?.throwIfAborted();
  const client = x.chain.client;
  const stake = options.stake ?? (await getRegistryConfig(client)).minStake;
  const digest = Digest.create(sha256.code, crypto.getRandomValues(new Uint8Array(32)));
  const sampleCid = CID.createV1(0x71, digest).toString();
  const permit = await signPermit(client, { spender: client.contracts.registry, value: stake });
  const fee = await estimateCallFee(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "listWithPermit",
    args: [
      0,
      cidToBytes(sampleCid),
      bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
      stake,
      permit.deadline,
      permit.v,
      permit.r,
      permit.s,
    ],
  }, { action: `list and stake a version of pool ${poolId}` });
  return { members: members.length, fee };
}

async function gather(
  x: VersionsContext,
  pool: PoolAnnouncement,
  members: MemberRecord[],
  version: Hex,
  options: PublishVersionOptions,
): Promise<{ kept: { member: MemberRecord; contribution: Contribution }[]; excluded: Excluded }> {
  const columns = releasedColumns(pool.terms.kind);
  let answered = 0;
  const results = await Promise.all(members.map(async (member) => {
    const signal = AbortSignal.any(
      [AbortSignal.timeout(x.contributeTimeout), options.signal].filter((s): s is AbortSignal =>
        s !== undefined
      ),
    );
    try {
      const response = await askPeer(x.p2p, member.peerId, {
        v: 1,
        type: "contribute",
        poolId: pool.poolId,
        version,
      }, {
        signal,
      });
      if ("error" in response) {
        return { member, reason: `refused (${response.error.code}): ${response.error.message}` };
      }
      if (!("contribution" in response)) return { member, reason: "answered something else than rows" };
      const c = response.contribution;
      if (c.columns.join("\u0000") !== columns.join("\u0000")) {
        return { member, reason: `sent columns ${c.columns.join(", ")}, not the ${pool.terms.kind} columns` };
      }
      if (c.count === 0) return { member, reason: "sent no rows" };
      const smallest = smallestClass(pool, c);
      if (smallest < pool.terms.k) {
        return {
          member,
          reason:
            `sent rows that are not ${pool.terms.k}-anonymous: a class of quasi-identifiers has ${smallest} ` +
            `row${smallest === 1 ? "" : "s"}, under k = ${pool.terms.k}`,
        };
      }
      if (c.report.k < pool.terms.k) {
        return { member, reason: `anonymized at k = ${c.report.k}, under ${pool.terms.k}` };
      }
      return { member, contribution: c };
    } catch (err) {
      options.signal?.throwIfAborted();
      return { member, reason: `did not answer: ${(err as Error).message.slice(0, 160)}` };
    } finally {
      options.onProgress?.(++answered, members.length);
    }
  }));
  const kept: { member: MemberRecord; contribution: Contribution }[] = [];
  const excluded: Excluded = [];
  for (const r of results) {
    if (!("contribution" in r) || !r.contribution) {
      excluded.push({ address: r.member.contributor, reason: (r as { reason: string }).reason });
      continue;
    }
    // The member's word is not enough: its consent is read on chain again now.
    const why = await checkConsentOnChain(x.chain.client, {
      consentId: r.member.consentId,
      contributor: r.member.contributor,
      kind: pool.terms.kind,
      purpose: pool.terms.purpose,
    });
    if (why) excluded.push({ address: r.member.contributor, reason: why });
    else kept.push({ member: r.member, contribution: r.contribution });
  }
  // `registerVersion` takes the contributors in strictly increasing address order.
  kept.sort((a, b) => compareAddresses(a.member.contributor, b.member.contributor));
  return { kept, excluded };
}

/**
 * The size of the smallest equivalence class of `c`'s rows over the kind's quasi-identifiers: a member's
 * word that it anonymized is checked, since its rows decide its share of every sale.
 */
export function smallestClass(pool: PoolAnnouncement, c: Contribution): number {
  const quasi = SOURCE_KIND_INFO[pool.terms.kind].fields.filter((f) => f.role === "quasi")
    .map((f) => c.columns.indexOf(f.name));
  const sizes = new Map<string, number>();
  for (const row of c.rows) {
    const key = JSON.stringify(quasi.map((i) => row[i]));
    sizes.set(key, (sizes.get(key) ?? 0) + 1);
  }
  return Math.min(...sizes.values());
}

function compareAddresses(a: Address, b: Address): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The reports of the members' tables as one: the least k, suppressed summed, fields merged. */
export function combineReports(k: number, reports: Contribution["report"][]): PrivacyReport {
  const dropped = [...new Set(reports.flatMap((r) => r.dropped))].sort();
  const levels = new Map<string, Set<string>>();
  for (const r of reports) {
    for (const [field, level] of Object.entries(r.generalised)) {
      if (!levels.has(field)) levels.set(field, new Set());
      levels.get(field)!.add(level);
    }
  }
  const generalised = Object.fromEntries(
    [...levels].sort(([a], [b]) => (a < b ? -1 : 1)).map(([field, set]) => {
      const joined = [...set].sort().join(" | ");
      // A manifest keeps at most 40 characters per level.
      return [field, joined.length <= 40 ? joined : "varies by member"];
    }),
  );
  return {
    k: Math.min(k, ...reports.map((r) => r.k)),
    suppressed: reports.reduce((a, r) => a + r.suppressed, 0),
    dropped,
    generalised,
  };
}

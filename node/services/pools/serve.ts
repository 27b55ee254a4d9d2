/**
 * The answering side of `/kosmos/pool/1.0.0`:
 *
 * - as operator: `join` (the contributor's signature over (poolId, consentId, the connection's peer id),
 *   then its consent read on chain: held by the contributor, for the pool's kind and purpose, valid now)
 *   stores the member; `leave` from the member's own node removes it;
 * - as member: `contribute` from the operator's node it joined: its own consent still valid on chain,
 *   then its own rows of the pool's kind anonymized here at the pool's k; only released rows leave;
 * - anyone: `announcements`, the pools this node knows (at most `MAX_POOL_ANNOUNCEMENTS`, newest first).
 */
import { type Address, getAddress } from "viem";
import {
  type Contribution,
  MAX_POOL_ANNOUNCEMENTS,
  MAX_POOL_CONTRIBUTION_BYTES,
  type PoolAnnouncement,
  type PoolRefusal,
  type PoolRequest,
  type PoolResponse,
  verifyPoolJoin,
} from "../../../protocol/pools.ts";
import { SOURCE_KIND_INFO, type SourceKind, type SourceRow } from "../../../protocol/sources.ts";
import { getConsent, isConsentValid, type KosmosClient, toPurposeId, toSourceId } from "../chain/mod.ts";
import type { Privacy } from "../privacy/mod.ts";
import type { Sources } from "../sources/mod.ts";
import type { Logger } from "../../log.ts";
import type { TokenBuckets } from "../../token_buckets.ts";
import type { PoolStore } from "./store.ts";

export interface ServeContext {
  store: PoolStore;
  client: () => KosmosClient;
  me: Address;
  sources: Sources;
  privacy: Privacy;
  log: Logger;
  maxMembers: number;
  /** Join, leave and announcements requests per peer (a contribute comes from an operator this node chose). */
  limits: TokenBuckets;
}

const refuse = (code: PoolRefusal, message: string): PoolResponse => ({ v: 1, error: { code, message } });

/** The columns a pool of `kind` releases: every field but the identifiers, in the kind's order. */
export function releasedColumns(kind: SourceKind): string[] {
  return SOURCE_KIND_INFO[kind].fields.filter((f) => f.role !== "identifier").map((f) => f.name);
}

/**
 * Why consent `consentId` does not let `contributor` share `kind` for `purpose` now, or `undefined`
 * when it does (read from the chain).
 */
export async function checkConsentOnChain(
  client: KosmosClient,
  params: { consentId: bigint; contributor: Address; kind: SourceKind; purpose: string },
): Promise<string | undefined> {
  const [record, valid] = await Promise.all([
    getConsent(client, { consentId: params.consentId }),
    isConsentValid(client, { consentId: params.consentId }),
  ]);
  if (!record) return `no consent ${params.consentId} on the consent contract`;
  if (getAddress(record.contributor) !== getAddress(params.contributor)) {
    return `consent ${params.consentId} is held by ${record.contributor}, not ${params.contributor}`;
  }
  if (record.source.toLowerCase() !== toSourceId(params.kind).toLowerCase()) {
    return `consent ${params.consentId} is not for ${params.kind} data`;
  }
  if (record.purpose.toLowerCase() !== toPurposeId(params.purpose).toLowerCase()) {
    return `consent ${params.consentId} is not for the pool's purpose`;
  }
  if (!valid) return `consent ${params.consentId} is ${record.revokedAt !== 0 ? "revoked" : "expired"}`;
  return undefined;
}

/** Answers one request; chain or store failures become an `unavailable` refusal. */
export async function answerPoolRequest(
  x: ServeContext,
  request: PoolRequest,
  remotePeer: string,
  signal: AbortSignal,
): Promise<PoolResponse> {
  if (request.type !== "contribute" && !x.limits.take(remotePeer)) {
    return refuse("rate-limited", "too many pool requests from this peer; try again later");
  }
  try {
    switch (request.type) {
      case "announcements":
        return { v: 1, announcements: x.store.listPools({ limit: MAX_POOL_ANNOUNCEMENTS }) };
      case "join":
        return await answerJoin(x, request, remotePeer);
      case "leave":
        return answerLeave(x, request, remotePeer);
      case "contribute":
        return await answerContribute(x, request, remotePeer, signal);
    }
  } catch (err) {
    if (signal.aborted) throw err;
    x.log.warn("failed to answer a pool request", { type: request.type, peerId: remotePeer, error: err });
    return refuse("unavailable", "the node could not answer now; try again later");
  }
}

function ownPool(x: ServeContext, poolId: string): PoolAnnouncement | undefined {
  const pool = x.store.getPool(poolId);
  return pool && pool.terms.operator === x.me ? pool : undefined;
}

async function answerJoin(
  x: ServeContext,
  r: Extract<PoolRequest, { type: "join" }>,
  remotePeer: string,
): Promise<PoolResponse> {
  const pool = ownPool(x, r.poolId);
  if (!pool) return refuse("unknown-pool", `this node operates no pool ${r.poolId}`);
  const consentId = BigInt(r.consentId);
  const signed = await verifyPoolJoin({
    poolId: BigInt(r.poolId),
    consentId,
    peerId: remotePeer,
    contributor: r.contributor,
    signature: r.signature,
  });
  if (!signed) {
    return refuse(
      "bad-signature",
      `the signature is not ${r.contributor}'s join of pool ${r.poolId} from this peer`,
    );
  }
  const why = await checkConsentOnChain(x.client(), {
    consentId,
    contributor: r.contributor,
    kind: pool.terms.kind,
    purpose: pool.terms.purpose,
  });
  if (why) return refuse("consent-invalid", why);
  if (!x.store.getMember(r.poolId, r.contributor) && x.store.countMembers(r.poolId) >= x.maxMembers) {
    return refuse("full", `pool ${r.poolId} has ${x.maxMembers} members, the most a version can pay`);
  }
  x.store.addMember({
    poolId: r.poolId,
    contributor: r.contributor,
    consentId,
    peerId: remotePeer,
    joinedAt: Date.now(),
  });
  x.log.info("added a pool member", { poolId: r.poolId, contributor: r.contributor, consentId: r.consentId });
  return { v: 1, ok: true };
}

function answerLeave(
  x: ServeContext,
  r: Extract<PoolRequest, { type: "leave" }>,
  remotePeer: string,
): PoolResponse {
  if (!ownPool(x, r.poolId)) return refuse("unknown-pool", `this node operates no pool ${r.poolId}`);
  const member = x.store.getMember(r.poolId, r.contributor);
  // Only the member's own node (the peer that joined) may take it out.
  if (!member || member.peerId !== remotePeer) {
    return refuse("not-member", `no member ${r.contributor} joined from this peer`);
  }
  x.store.removeMember(r.poolId, r.contributor);
  x.log.info("removed a pool member", { poolId: r.poolId, contributor: r.contributor });
  return { v: 1, ok: true };
}

async function answerContribute(
  x: ServeContext,
  r: Extract<PoolRequest, { type: "contribute" }>,
  remotePeer: string,
  signal: AbortSignal,
): Promise<PoolResponse> {
  const membership = x.store.getMembership(r.poolId);
  const pool = x.store.getPool(r.poolId);
  if (
    !membership || !pool || membership.operatorPeer !== remotePeer ||
    pool.terms.operator !== membership.operator
  ) {
    return refuse("not-member", `this node is not a member of pool ${r.poolId} operated from this peer`);
  }
  const { kind, purpose, k } = pool.terms;
  const why = await checkConsentOnChain(x.client(), {
    consentId: membership.consentId,
    contributor: x.me,
    kind,
    purpose,
  });
  if (why) return refuse("consent-invalid", why);
  signal.throwIfAborted();
  const contribution = contribute(x, kind, k);
  if (!contribution) return refuse("no-rows", `no ${kind} rows to share at k = ${k}`);
  x.log.info("contributed to a pool version", {
    poolId: r.poolId,
    version: r.version,
    rows: contribution.count,
  });
  return { v: 1, contribution };
}

/** This node's rows of `kind`, anonymized at `k`; `undefined` when none is released. */
export function contribute(
  x: Pick<ServeContext, "sources" | "privacy">,
  kind: SourceKind,
  k: number,
): Contribution | undefined {
  const ids = x.sources.list().filter((s) => s.kind === kind).map((s) => s.id);
  if (ids.length === 0) return undefined;
  const rows = function* (): Iterable<SourceRow> {
    for (const id of ids) yield* x.sources.rows(id);
  };
  const table = x.privacy.anonymize(kind, rows, { k });
  if (table.released === 0) return undefined;
  const released = [...table.rows()];
  let bytes = 0;
  for (const row of released) {
    bytes += JSON.stringify(row).length;
    if (bytes > MAX_POOL_CONTRIBUTION_BYTES - 64 * 1024) {
      throw new RangeError(
        `The ${kind} rows are over the ${MAX_POOL_CONTRIBUTION_BYTES} bytes one contribution may hold`,
      );
    }
  }
  return {
    columns: table.columns,
    rows: released,
    count: released.length,
    report: {
      k: table.report.k ?? k,
      suppressed: table.report.suppressed ?? 0,
      dropped: table.report.dropped ?? [],
      generalised: table.report.generalised ?? {},
    },
  };
}

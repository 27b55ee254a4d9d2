/**
 * Pool terms from what an operator asks for, and the check every pool announcement from another node
 * passes before it is kept: its signature and terms hash (`protocol/pools.ts`), then the pool on chain
 * (`KosmosPools.getPool`) with the same operator, terms hash and fee. A pool the chain does not know
 * is ignored (the announcement may be ahead of the chain); one that contradicts it is rejected.
 *
 * ```ts
 * const terms = toPoolTerms(fields, operator);
 * await ingestPoolAnnouncement({ store, client: () => chain.client, log }, announcement, peerId); // "accept"
 * ```
 */
import { type Address, getAddress } from "viem";
import {
  checkPoolTerms,
  type PoolAnnouncement,
  PoolProtocolError,
  type PoolTerms,
  verifyPoolAnnouncement,
} from "../../../protocol/pools.ts";
import type { SourceKind } from "../../../protocol/sources.ts";
import type { Logger } from "../../log.ts";
import { getPool, type KosmosClient } from "../chain/mod.ts";
import type { ValidationResult } from "../p2p/mod.ts";
import type { PoolStore } from "./store.ts";

/** What an operator offers; `price` in token base units (decimal). */
export interface CreatePoolFields {
  kind: SourceKind;
  purpose: string;
  title: string;
  /** @default "" */
  description?: string;
  price: string;
  licence: string;
  /** @default 5 */
  k?: number;
  operatorFeeBps: number;
}

/** The terms of a new pool of `operator`, checked; `TypeError` naming the first bad field. */
export function toPoolTerms(fields: CreatePoolFields, operator: Address): PoolTerms {
  if (typeof fields !== "object" || fields === null) {
    throw new TypeError("The pool's terms must be an object");
  }
  try {
    return checkPoolTerms({
      kind: fields.kind,
      purpose: fields.purpose,
      title: typeof fields.title === "string" ? fields.title.trim() : fields.title,
      description: fields.description ?? "",
      price: fields.price,
      licence: fields.licence,
      k: fields.k ?? 5,
      operatorFeeBps: fields.operatorFeeBps,
      operator,
      createdAt: Date.now(),
    });
  } catch (err) {
    if (err instanceof PoolProtocolError) {
      throw new TypeError(err.message.replace(/^Invalid terms\./, "Invalid "));
    }
    throw err;
  }
}

/** Verifies `a` (signature, terms hash, the pool on chain) and stores it when newer. Never throws. */
export async function ingestPoolAnnouncement(
  x: { store: PoolStore; client: () => KosmosClient; log: Logger },
  a: PoolAnnouncement,
  from: string,
): Promise<ValidationResult> {
  const { store, log } = x;
  try {
    const known = store.getPool(a.poolId);
    if (known && known.timestamp >= a.timestamp) return "ignore";
    const verified = await verifyPoolAnnouncement(a);
    const onChain = await getPool(x.client(), BigInt(verified.poolId));
    if (!onChain) {
      log.debug("ignored a pool announcement: no such pool on chain", { from, poolId: a.poolId });
      return "ignore";
    }
    if (
      getAddress(onChain.operator) !== verified.terms.operator ||
      onChain.termsHash.toLowerCase() !== verified.termsHash ||
      Number(onChain.feeBps) !== verified.terms.operatorFeeBps
    ) {
      log.debug("rejected a pool announcement: not the pool on chain", { from, poolId: a.poolId });
      return "reject";
    }
    if (!store.putPool(verified)) return "ignore";
    log.debug("indexed a pool announcement", { from, poolId: verified.poolId });
    return "accept";
  } catch (err) {
    if (err instanceof PoolProtocolError) {
      log.debug("rejected a pool announcement", { from, error: err });
      return "reject";
    }
    log.warn("failed to check a pool announcement", { from, error: err });
    return "ignore";
  }
}

/** A pool id: a positive decimal integer; `TypeError` otherwise. */
export function checkPoolId(poolId: string): string {
  if (typeof poolId !== "string" || !/^[1-9]\d{0,76}$/.test(poolId)) {
    throw new TypeError(
      `A pool id is a positive whole number, got ${JSON.stringify(String(poolId).slice(0, 40))}`,
    );
  }
  return poolId;
}

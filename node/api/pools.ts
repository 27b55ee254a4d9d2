/**
 * Pools (`PoolsApi`): the pools service's records mapped to views (ids and amounts as decimal
 * strings, times in ms); the logic is the service's.
 */
import type { PoolsApi, PoolVersionView, PoolView } from "../../protocol/api/pools.ts";
import type { PoolRecord, Pools, VersionRecord } from "../services/pools/mod.ts";
import { toFeeView, withGasUsed } from "./fees.ts";

export interface PoolsApiComponents {
  pools: Pools;
}

export function createPoolsApi(c: PoolsApiComponents): PoolsApi {
  const { pools } = c;
  return {
    listPools() {
      return Promise.resolve({ pools: pools.listPools().map(toPoolView) });
    },
    getPool(id) {
      return Promise.resolve(toPoolView(pools.getPool(id)));
    },
    async createPool(fields, options = {}) {
      return await withGasUsed(async () => toPoolView(await pools.createPool(fields, options)));
    },
    async previewCreatePool(fields, options = {}) {
      const { fee } = await pools.previewCreatePool(fields, options);
      return { preview: true, fee: toFeeView(fee) };
    },
    async joinPool(id, body, options = {}) {
      return toPoolView(await pools.joinPool(id, body, options));
    },
    async leavePool(id, options = {}) {
      const { pool, notified } = await pools.leavePool(id, options);
      return { ...toPoolView(pool), notified };
    },
    async publishPoolVersion(id, body, options = {}) {
      return await withGasUsed(async () =>
        toPoolVersionView(await pools.publishVersion(id, { stake: body.stake, signal: options.signal }))
      );
    },
    async previewPublishPoolVersion(id, body, options = {}) {
      const { members, fee } = await pools.previewPublishVersion(id, {
        stake: body.stake,
        signal: options.signal,
      });
      return { preview: true, fee: toFeeView(fee), members };
    },
  };
}

export function toPoolView(r: PoolRecord): PoolView {
  const a = r.announcement;
  return {
    id: a.poolId,
    kind: a.terms.kind,
    purpose: a.terms.purpose,
    title: a.terms.title,
    description: a.terms.description,
    price: a.terms.price,
    licence: a.terms.licence,
    k: a.terms.k,
    operatorFeeBps: a.terms.operatorFeeBps,
    operator: a.terms.operator,
    peerId: a.peerId,
    termsHash: a.termsHash,
    createdAt: a.terms.createdAt,
    role: r.role,
    members: r.members.map((m) => ({
      address: m.address,
      consentId: m.consentId.toString(),
      joinedAt: m.joinedAt,
    })),
    membership: r.membership
      ? { consentId: r.membership.consentId.toString(), joinedAt: r.membership.joinedAt }
      : null,
    versions: r.versions.map(toPoolVersionView),
  };
}

export function toPoolVersionView(v: VersionRecord): PoolVersionView {
  return {
    listingId: v.listingId.toString(),
    manifestCid: v.manifestCid,
    contributors: v.contributors.map((c) => ({ address: c.address, rows: c.rows })),
    excluded: v.excluded.map((e) => ({ address: e.address, reason: e.reason })),
    rows: v.rows,
    txHash: v.txHash,
    createdAt: v.createdAt,
  };
}

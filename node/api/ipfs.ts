/**
 * The IPFS trustless gateway's reads (`IpfsApi`) over the block store: a block this node holds, as
 * stored (the store hashes it again on every read), for anyone who asks on a public node. It serves
 * what the chunk protocol already serves to any peer, encrypted chunks, sealed batches and public
 * manifests, and nothing else: keys and decrypted data are never blocks.
 *
 * Every request is counted per caller (an IPv4 address, an IPv6 client by its /64; behind one of
 * the node's trusted proxies, the client it names) and for everyone together, before anything is
 * read. A CID of a kind the store never holds (another codec or hash, CIDv0) is answered
 * `NotFoundError` without touching the store; an identity CID's block is the CID's own digest.
 */
import { CID } from "multiformats/cid";
import type { IpfsApi, IpfsBlockOptions } from "../../protocol/api/ipfs.ts";
import { DAG_CBOR_CODE, RAW_CODE, SHA2_256_CODE } from "../../protocol/ids.ts";
import { IDENTITY_CODE, parseGatewayCid } from "../../protocol/ipfs_gateway.ts";
import { KosmosError, NotFoundError } from "../errors.ts";
import type { BlockStore } from "../services/blocks/mod.ts";
import { rateLimitKey, resolveClientIp } from "../services/ingest/mod.ts";
import { TokenBuckets } from "../token_buckets.ts";

/** Too many gateway requests, from one caller or from everyone together. */
export class IpfsRateLimitError extends KosmosError {
  override name = "IpfsRateLimitError";
  /** Seconds until a request may succeed (at least 1). */
  readonly retryAfter: number;
  constructor(message: string, retryAfter: number) {
    super(message, { details: { retryAfter } });
    this.retryAfter = Math.max(1, Math.ceil(retryAfter));
  }
}

export interface IpfsApiComponents {
  blocks: BlockStore;
  /** Addresses allowed to name the client in `X-Forwarded-For` (config `trustedProxies`). */
  config: { trustedProxies: string[] };
}

export interface IpfsApiInit {
  /** Blocks one caller may ask for at once, then `perCallerRate` a second. @default 200, 50 */
  perCallerBurst?: number;
  perCallerRate?: number;
  /** Blocks all callers together may ask for at once, then `allRate` a second. @default 2000, 400 */
  allBurst?: number;
  allRate?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

/** The codecs the block store keeps (always CIDv1 with sha2-256). */
const STORED_CODECS = new Set([RAW_CODE, DAG_CBOR_CODE]);

export function createIpfsApi(c: IpfsApiComponents, init: IpfsApiInit = {}): IpfsApi {
  const now = init.now ?? Date.now;
  const perCaller = new TokenBuckets({
    rate: init.perCallerRate ?? 50,
    burst: init.perCallerBurst ?? 200,
    maxKeys: 10_000,
    now,
  });
  const everyone = new TokenBuckets({ rate: init.allRate ?? 400, burst: init.allBurst ?? 2000, now });

  const take = ({ remoteAddress, forwardedFor }: IpfsBlockOptions["caller"]) => {
    const caller = rateLimitKey(resolveClientIp(remoteAddress, forwardedFor, c.config.trustedProxies));
    if (!perCaller.take(caller)) {
      throw new IpfsRateLimitError(
        "Too many block requests from you; slow down",
        perCaller.retryAfter(caller),
      );
    }
    if (!everyone.take("all")) {
      throw new IpfsRateLimitError("This gateway is busy; try again later", everyone.retryAfter("all"));
    }
  };

  return {
    async getIpfsBlock(text: string, options: IpfsBlockOptions): Promise<Uint8Array<ArrayBuffer>> {
      const cid = parseGatewayCid(text);
      options.signal?.throwIfAborted();
      take(options.caller);
      if (cid.multihash.code === IDENTITY_CODE) return cid.multihash.digest.slice();
      if (!isStorable(cid)) {
        throw new NotFoundError(
          `This node does not hold ${cid}: it stores only CIDv1 raw or dag-cbor blocks hashed with sha2-256`,
        );
      }
      try {
        return await c.blocks.get(cid);
      } catch (err) {
        const name = (err as Error).name;
        if (name === "NotFoundError" || name === "CorruptBlockError") {
          throw new NotFoundError(`This node does not hold ${cid}`, { cause: err });
        }
        throw err;
      }
    },
  };
}

function isStorable(cid: CID): boolean {
  return cid.version === 1 && STORED_CODECS.has(cid.code) && cid.multihash.code === SHA2_256_CODE &&
    cid.multihash.size === 32;
}

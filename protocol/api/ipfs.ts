/**
 * The API contract of the IPFS trustless gateway (public nodes only): `GET /ipfs/{cid}` answers a
 * block this node holds, as its raw bytes (`application/vnd.ipld.raw`) or a CARv1 holding it
 * (`application/vnd.ipld.car`), so any IPFS client can fetch, verify and mirror the encrypted chunks
 * (and manifests) a node stores. Only blocks it holds, exactly as the libp2p chunk protocol serves
 * them to any peer: ciphertext and public manifests, never a key or anything decrypted.
 *
 * ```ts
 * const bytes = await api.getIpfsBlock("bafkrei…", { caller: { remoteAddress: "203.0.113.9" } });
 * ```
 */

/** Who asks, for the per-caller rate limit. */
export interface IpfsCaller {
  /** The socket's peer address. */
  remoteAddress: string;
  /** `X-Forwarded-For`, read only when `remoteAddress` is one of the node's trusted proxies. */
  forwardedFor?: string;
}

export interface IpfsBlockOptions {
  caller: IpfsCaller;
  signal?: AbortSignal;
}

export interface IpfsApi {
  /**
   * The bytes of block `cid` (a CID string in any base), checked against the CID. `TypeError` for a
   * string that is not a CID; `NotFoundError` when this node does not hold it (a CID of a kind it
   * never stores is answered without reading the store); `IpfsRateLimitError` (with `retryAfter`,
   * seconds) when the caller or everyone together asked too often.
   */
  getIpfsBlock(cid: string, options: IpfsBlockOptions): Promise<Uint8Array<ArrayBuffer>>;
}

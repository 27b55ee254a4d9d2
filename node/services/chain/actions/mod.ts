/**
 * Chain actions over a {@link KosmosClient}, in viem's style: plain functions,
 * each exporting its `Parameters` and `ReturnType`; writes are simulated first
 * and wait for their receipt with the client's timeout.
 *
 * ```ts
 * import { listDataset, getTokenBalance } from "./actions/mod.ts";
 * const { listingId } = await listDataset(client, { manifestCid, stake: 100n * 10n ** 18n });
 * console.log(await getTokenBalance(client));
 * ```
 */
export * from "./token.ts";
export * from "./registry.ts";
export * from "./escrow.ts";
export * from "./faucet.ts";
export * from "./consent.ts";
export * from "./sent.ts";
export * from "./pools.ts";
export * from "./mining.ts";
export * from "./rewards.ts";
export * from "./streams.ts";
export * from "./anchor.ts";

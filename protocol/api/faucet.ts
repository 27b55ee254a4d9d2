/**
 * The HTTP API contract of the faucet (dev networks only): `GET /api/v1/faucet` says what it
 * gives and when an address may ask again; `POST /api/v1/faucet { address? }` has the node ask
 * the faucet contract for test tokens (and an ether top-up for gas) for `address`, by default
 * the node's own wallet. Both are public routes, so a node joining this node's network can ask
 * for its tokens; both answer 404 on a network that is not a dev network.
 *
 * ```ts
 * const res = await fetch(`${peer}/api/v1/faucet`, { method: "POST", body: JSON.stringify({ address }) });
 * const { tokens, txHash } = await res.json() as FaucetDrip;
 * ```
 */

import * as v from "valibot";
import { getAddress, isAddress } from "viem";
import type { FeeView, GasUsedView } from "./fees.ts";
import { strictBody } from "./schema.ts";

/** `GET /api/v1/faucet`. Amounts in base units (token base units, wei), decimal strings. */
export interface FaucetInfo {
  /** The faucet contract. */
  contract: `0x${string}`;
  /** Tokens per drip. */
  amount: string;
  /** Wei a recipient's ether is topped up to, for gas. */
  ethAmount: string;
  /** Seconds between two drips to one address. */
  cooldown: number;
  /** Drips per cooldown period, all addresses together. */
  maxDripsPerPeriod: number;
  /** Tokens the faucet still holds. */
  tokens: string;
  /** The address asked about (`?address=`, by default the node's wallet). */
  address: `0x${string}`;
  /** Unix seconds (chain time) from which `address` may ask again (0: now). */
  nextDripAt: number;
  /** Seconds until `address` may ask again, by the chain's clock (0: now). */
  availableIn: number;
}

/**
 * What `POST /api/v1/faucet` answers once the drip is mined; `gasUsed` and `effectiveGasPrice` say
 * what the node paid, in the dev network's test ether.
 */
export interface FaucetDrip extends GasUsedView {
  address: `0x${string}`;
  /** Tokens received, base units. */
  tokens: string;
  /** Wei received (a top-up for gas; "0" when the address had enough). */
  eth: string;
  txHash: `0x${string}`;
  /** Unix seconds from which `address` may ask again. */
  nextDripAt: number;
}

/** What `POST /api/v1/faucet?preview=1` answers: what a drip would give, and the node's fee. */
export interface FaucetPreview {
  preview: true;
  /** The fee the node would pay, in the dev network's test ether. */
  fee: FeeView;
  address: `0x${string}`;
  tokens: string;
  /** Dev networks only: the node pays the fee in test ether, so no confirmation is asked. */
  paidBy: "node";
}

export interface FaucetApi {
  /**
   * The faucet's terms and when `address` (by default this node's wallet) may ask again.
   * Failures: `FaucetUnavailableError` (not a dev network, or no faucet), `ChainUnavailableError`.
   */
  getFaucet(options?: { address?: `0x${string}`; signal?: AbortSignal }): Promise<FaucetInfo>;
  /**
   * Asks the faucet for a drip to `address` (by default this node's wallet); this node signs
   * and pays the gas. `caller` identifies who asks (the client's IP) for the rate limit.
   * Failures: `FaucetUnavailableError`, `FaucetLimitError` (this address, this caller or
   * everyone had their share; it carries `retryAfter` seconds), `ContractRevertError`,
   * `ChainUnavailableError`.
   */
  requestFaucet(
    params: { address?: `0x${string}` },
    options: { caller: string; preview?: boolean; signal?: AbortSignal },
  ): Promise<FaucetDrip | FaucetPreview>;
}

/** An EVM address (`0x` + 40 hex digits, any case; a mixed-case one must carry a valid checksum). */
export const evmAddress = v.pipe(
  v.custom<string>(
    (value) => typeof value === "string" && isAddress(value, { strict: false }),
    '"address" must be an EVM address: 0x followed by 40 hex digits',
  ),
  v.check(
    (value) =>
      value === value.toLowerCase() || value === value.toUpperCase().replace("0X", "0x") ||
      isAddress(value, { strict: true }),
    '"address" has a wrong checksum (mixed case): check it, or send it in lower case',
  ),
  v.transform((value) => getAddress(value)),
);

/** `POST /api/v1/faucet` */
export const FaucetBody = strictBody(
  { address: v.optional(evmAddress) },
  { example: '{ "address": "0x…" } (or {} for this node\'s wallet)' },
);

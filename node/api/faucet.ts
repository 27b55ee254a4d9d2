/**
 * The faucet of a dev network (`FaucetApi`): this node asks the KosmosFaucet
 * contract for test tokens for any address and pays the gas in test ether.
 * The routes are public (a node joining this node's network asks here), so
 * every request is bounded three ways before the node signs anything: per
 * caller (its IP, an IPv6 client by its /64), for everyone together, and per address (the contract's
 * cooldown, read first so a refused request costs no gas). On a network that
 * is not a dev network there is no faucet: `FaucetUnavailableError` (404).
 */
import type { Address } from "viem";
import type { FaucetApi, FaucetDrip, FaucetInfo, FaucetPreview } from "../../protocol/api/faucet.ts";
import {
  type ChainService,
  ContractRevertError,
  dripFaucet,
  estimateCallFee,
  FaucetLimitError,
  FaucetUnavailableError,
  getDripCall,
  getFaucetTerms,
  getNextDripAt,
  type KosmosClient,
} from "../services/chain/mod.ts";
import type { Identity } from "../services/identity/mod.ts";
import { rateLimitKey } from "../services/ingest/mod.ts";
import { TokenBuckets } from "../token_buckets.ts";

export interface FaucetApiComponents {
  chain: ChainService;
  identity: Identity;
  /** Whether this node's network is a dev network, and its name. */
  network: { name: string; dev: boolean };
}

export interface FaucetApiInit {
  /** Requests one caller may make: a burst, then one per `perCallerEvery` seconds. @default 5, 600 */
  perCallerBurst?: number;
  perCallerEvery?: number;
  /** Requests of all callers together: a burst, then one per `allEvery` seconds. @default 30, 36 */
  allBurst?: number;
  allEvery?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

export function createFaucetApi(c: FaucetApiComponents, init: FaucetApiInit = {}): FaucetApi {
  const { chain, identity, network } = c;
  const now = init.now ?? Date.now;
  const perCaller = new TokenBuckets({
    rate: 1 / (init.perCallerEvery ?? 600),
    burst: init.perCallerBurst ?? 5,
    maxKeys: 10_000,
    now,
  });
  const everyone = new TokenBuckets({ rate: 1 / (init.allEvery ?? 36), burst: init.allBurst ?? 30, now });

  const getClient = (): KosmosClient => {
    if (!network.dev) {
      throw new FaucetUnavailableError(
        `No faucet: this node's network "${network.name}" is not a dev network; get tokens from someone who holds them`,
      );
    }
    if (!chain.contracts?.faucet) {
      throw new FaucetUnavailableError("No faucet: this dev network's contracts were deployed without one");
    }
    return chain.client;
  };

  /** Rejects when the address must still wait; the contract would revert with FaucetCooldown. */
  const checkCooldown = async (client: KosmosClient, to: Address) => {
    const at = await getNextDripAt(client, { to });
    const block = await client.publicClient.getBlock({ blockTag: "latest" });
    const wait = at - Number(block.timestamp);
    if (wait > 0) {
      throw new FaucetLimitError(
        `${to} had test tokens less than a cooldown ago; ask again in ${wait} s`,
        wait,
      );
    }
    return at;
  };

  const take = (address: string) => {
    // An IPv6 client is its /64, so rotating through its prefix gains nothing.
    const caller = rateLimitKey(address);
    if (!perCaller.take(caller)) {
      throw new FaucetLimitError(
        "Too many faucet requests from you; slow down",
        perCaller.retryAfter(caller),
      );
    }
    if (!everyone.take("all")) {
      throw new FaucetLimitError("The faucet is busy; try again later", everyone.retryAfter("all"));
    }
  };

  return {
    async getFaucet(options = {}): Promise<FaucetInfo> {
      const client = getClient();
      options.signal?.throwIfAborted();
      const address = options.address ?? identity.account.address;
      const [terms, nextDripAt, block] = await Promise.all([
        getFaucetTerms(client),
        getNextDripAt(client, { to: address }),
        client.publicClient.getBlock({ blockTag: "latest" }),
      ]);
      return {
        contract: chain.contracts!.faucet!,
        amount: terms.amount.toString(),
        ethAmount: terms.ethAmount.toString(),
        cooldown: terms.cooldown,
        maxDripsPerPeriod: terms.maxDripsPerPeriod,
        tokens: terms.tokens.toString(),
        address,
        nextDripAt,
        availableIn: Math.max(0, nextDripAt - Number(block.timestamp)),
      };
    },

    async requestFaucet(params, options): Promise<FaucetDrip | FaucetPreview> {
      const client = getClient();
      const to = params.address ?? identity.account.address;
      take(options.caller);
      await checkCooldown(client, to);
      if (options.preview) {
        const [fee, terms] = await Promise.all([
          estimateCallFee(client, getDripCall(client, to), { action: "estimate the faucet's fee" })
            .catch(toLimitError),
          getFaucetTerms(client),
        ]);
        return {
          preview: true,
          fee: {
            gas: fee.gas.toString(),
            maxFeePerGas: fee.maxFeePerGas.toString(),
            maxPriorityFeePerGas: fee.maxPriorityFeePerGas.toString(),
            fee: fee.fee.toString(),
          },
          address: to,
          tokens: terms.amount.toString(),
          paidBy: "node",
        };
      }
      const drip = await chain.exclusive(async () => {
        options.signal?.throwIfAborted();
        return await dripFaucet(client, { to, signal: options.signal }).catch(toLimitError);
      });
      return {
        address: to,
        tokens: drip.tokens.toString(),
        eth: drip.eth.toString(),
        txHash: drip.hash,
        gasUsed: drip.gasUsed.toString(),
        effectiveGasPrice: drip.effectiveGasPrice.toString(),
        nextDripAt: await getNextDripAt(client, { to }),
      };
    },
  };
}

/** The faucet's own limits (a race past the pre-check) as a {@link FaucetLimitError}; anything else as is. */
function toLimitError(err: unknown): never {
  if (err instanceof ContractRevertError) {
    if (err.revert === "FaucetCooldown") {
      const wait = Number(err.args[1]) - Math.floor(Date.now() / 1000);
      throw new FaucetLimitError(`${String(err.args[0])} had test tokens less than a cooldown ago`, wait);
    }
    if (err.revert === "FaucetBusy") {
      const wait = Number(err.args[0]) - Math.floor(Date.now() / 1000);
      throw new FaucetLimitError("The faucet gave out every drip of this hour; try again later", wait);
    }
  }
  throw err;
}

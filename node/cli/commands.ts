/**
 * Every client command of `kosmos`, by name, with its one-line synopsis for
 * `kosmos help`. `main.ts` runs the one named first on the command line; each
 * prints its own usage with `--help`.
 */
import { runBuy } from "./buy.ts";
import { runConsent } from "./consent.ts";
import { runPool } from "./pools.ts";
import { runDelegates } from "./delegates.ts";
import { runDeliveries, runExports } from "./deliveries.ts";
import { runClaim, runEarnings } from "./earnings.ts";
import { runFaucet } from "./faucet.ts";
import { runFetch } from "./fetch.ts";
import { runGateway, runListing, runListings, runQuote } from "./listings.ts";
import { GATEWAY_ADMIN_WORDS, runGatewayAdmin } from "./gateway_admin.ts";
import { runStream, runStreams, runSubscribe, runSubscriptions } from "./streams.ts";
import { runLogin } from "./login.ts";
import { runPublish } from "./publish.ts";
import { runEvidence, runPurchases, runSales } from "./purchases.ts";
import { runQuery } from "./query.ts";
import { runFunnels, runGoals, runSiteKeys } from "./goals.ts";
import { runAnalyticsImport } from "./analytics_import.ts";
import { runSites } from "./sites.ts";
import { runImport, runPublication, runSources } from "./sources.ts";
import { runChallenge, runChallenges, runResolve, runStake, runWithdrawStake } from "./stakes.ts";
import { runChain, runNodeInfo } from "./status.ts";
import { runWallet, runWithdraw } from "./wallet.ts";
import { runVerify } from "./verify.ts";

export interface ClientCommand {
  /** Arguments after the name, as in `kosmos help`. */
  synopsis: string;
  run(args: string[]): Promise<number>;
}

export const COMMANDS: Record<string, ClientCommand> = {
  publish: {
    synopsis: "FILE --title … --category … --price … --license … [--stake N] [--yes]",
    run: (args) => runPublish(args),
  },
  listings: {
    synopsis: "[--mine] [--search TEXT] [--category NAME] [--sort ORDER]",
    run: (args) => runListings(args),
  },
  listing: { synopsis: "MANIFEST_CID", run: (args) => runListing(args) },
  quote: { synopsis: "MANIFEST_CID", run: (args) => runQuote(args) },
  gateway: {
    synopsis:
      "MANIFEST_CID | owner add|list|takeover … | sensor add|list|consent … | client add|list | stats",
    // Its usage names both forms.
    run: (args) =>
      [...GATEWAY_ADMIN_WORDS, "--help", "-h"].includes(args[0]) ? runGatewayAdmin(args) : runGateway(args),
  },
  streams: { synopsis: "", run: (args) => runStreams(args) },
  stream: {
    synopsis: "publish --title … --sensors … --schema … --price KOS --licence … [--yes] | show ID",
    run: (args) => runStream(args),
  },
  subscribe: {
    synopsis: "STREAM_ID --seconds N [--targets T1,T2] [--yes] | --renew ID --seconds N [--yes]",
    run: (args) => runSubscribe(args),
  },
  subscriptions: { synopsis: "[ID]", run: (args) => runSubscriptions(args) },
  stake: { synopsis: "MANIFEST_CID|LISTING_ID --amount N [--yes]", run: (args) => runStake(args) },
  "withdraw-stake": { synopsis: "LISTING_ID|MANIFEST_CID [--yes]", run: (args) => runWithdrawStake(args) },
  challenge: { synopsis: "LISTING_ID|MANIFEST_CID --amount N [--yes]", run: (args) => runChallenge(args) },
  challenges: { synopsis: "", run: (args) => runChallenges(args) },
  resolve: { synopsis: "LISTING_ID|MANIFEST_CID --valid|--invalid [--yes]", run: (args) => runResolve(args) },
  delegates: {
    synopsis: "MANIFEST_CID [add PEER_ID | remove ADDRESS] [--yes]",
    run: (args) => runDelegates(args),
  },
  fetch: { synopsis: "MANIFEST_CID", run: (args) => runFetch(args) },
  buy: { synopsis: "MANIFEST_CID [--yes]", run: (args) => runBuy(args) },
  purchases: { synopsis: "[PURCHASE_ID]", run: (args) => runPurchases(args) },
  sales: { synopsis: "", run: (args) => runSales(args) },
  evidence: { synopsis: "PURCHASE_ID", run: (args) => runEvidence(args) },
  exports: {
    synopsis: "PURCHASE_ID [--format csv|ndjson|original] [--output FILE]",
    run: (args) => runExports(args),
  },
  deliveries: {
    synopsis: "[PURCHASE_ID --dir DIR|--webhook URL [--format F] [--wait]]",
    run: (args) => runDeliveries(args),
  },
  wallet: { synopsis: "", run: (args) => runWallet(args) },
  withdraw: { synopsis: "[--yes]", run: (args) => runWithdraw(args) },
  faucet: { synopsis: "[ADDRESS] [--info]", run: (args) => runFaucet(args) },
  sites: {
    synopsis: "[add|verify|stats|proxies|releases DOMAIN | block|unblock DOMAIN PEER_ID | release DOMAIN …]",
    run: (args) => runSites(args),
  },
  query: { synopsis: "FILE|-", run: (args) => runQuery(args) },
  goals: {
    synopsis: "DOMAIN [add page PATH | add event NAME [--currency C] [--props K=V,…] | remove ID]",
    run: (args) => runGoals(args),
  },
  funnels: {
    synopsis: "DOMAIN [add NAME GOAL_ID GOAL_ID… | show ID --from DATE --to DATE | remove ID]",
    run: (args) => runFunnels(args),
  },
  "site-keys": { synopsis: "DOMAIN [create NAME | revoke ID]", run: (args) => runSiteKeys(args) },
  "analytics-import": { synopsis: "DOMAIN [FILE]", run: (args) => runAnalyticsImport(args) },
  import: { synopsis: "KIND FILE [--mapping FILE|JSON]", run: (args) => runImport(args) },
  sources: { synopsis: "", run: (args) => runSources(args) },
  consent: {
    synopsis: "grant KIND --purpose TEXT --expires 30d|ISO [--yes] | revoke ID [--yes] | list",
    run: (args) => runConsent(args),
  },
  pool: {
    synopsis:
      "create KIND --purpose … --title … --price … --licence … --fee BPS [--yes] | list | join ID --consent ID | " +
      "leave ID | publish ID [--stake N] [--yes]",
    run: (args) => runPool(args),
  },
  earnings: { synopsis: "", run: (args) => runEarnings(args) },
  claim: { synopsis: "[DISTRIBUTION_ID] [--yes]", run: (args) => runClaim(args) },
  publication: {
    synopsis: "create --kinds K1,K2 --purpose … --title … --price … --licence … [--k N] [--yes] | list",
    run: (args) => runPublication(args),
  },
  node: { synopsis: "", run: (args) => runNodeInfo(args) },
  chain: { synopsis: "", run: (args) => runChain(args) },
  verify: { synopsis: "FILE PROOF [--rpc-url URL]", run: (args) => runVerify(args) },
  login: { synopsis: "", run: (args) => runLogin(args) },
};

/** The lines of `kosmos help` that list the client commands. */
export function listCommands(): string {
  return Object.entries(COMMANDS)
    .map(([name, c]) => `       kosmos ${name}${c.synopsis ? ` ${c.synopsis}` : ""}`)
    .join("\n");
}

/**
 * Every island, by name. An island is a component in `web/islands/` that is
 * rendered on the server like any other and then hydrated in the browser.
 * The name is the island's file name; the server writes it into the marker
 * element, and `web/client.ts` uses the loader here to fetch only the islands
 * a page contains. Each `import()` becomes its own esbuild chunk.
 *
 * Add an island: create `web/islands/<name>.tsx` exporting the component and
 * list it here.
 */
import type { ComponentType } from "preact";

// deno-lint-ignore no-explicit-any
type AnyComponent = ComponentType<any>;

export const islandLoaders = {
  peer_list: () => import("./islands/peer_list.tsx").then((m) => m.PeerList),
  publish_form: () => import("./islands/publish_form.tsx").then((m) => m.PublishForm),
  fetch_progress: () => import("./islands/fetch_progress.tsx").then((m) => m.FetchProgress),
  wallet_withdraw: () => import("./islands/wallet_withdraw.tsx").then((m) => m.WalletWithdraw),
  faucet_button: () => import("./islands/faucet_button.tsx").then((m) => m.FaucetButton),
  wallet_resolve: () => import("./islands/wallet_resolve.tsx").then((m) => m.WalletResolve),
  buy_listing: () => import("./islands/buy_listing.tsx").then((m) => m.BuyListing),
  stake_listing: () => import("./islands/stake_listing.tsx").then((m) => m.StakeListing),
  site_graph: () => import("./islands/site_graph.tsx").then((m) => m.SiteGraph),
  site_realtime: () => import("./islands/site_realtime.tsx").then((m) => m.SiteRealtime),
  sell_statistics: () => import("./islands/sell_statistics.tsx").then((m) => m.SellStatistics),
  stake_withdraw: () => import("./islands/stake_withdraw.tsx").then((m) => m.StakeWithdraw),
  listing_delegates: () => import("./islands/listing_delegates.tsx").then((m) => m.ListingDelegates),
  purchase_delivery: () => import("./islands/purchase_delivery.tsx").then((m) => m.PurchaseDelivery),
  data_sources: () => import("./islands/data_sources.tsx").then((m) => m.DataSources),
  data_consents: () => import("./islands/data_consents.tsx").then((m) => m.DataConsents),
  data_publish: () => import("./islands/data_publish.tsx").then((m) => m.DataPublish),
  extension_pairing: () => import("./islands/extension_pairing.tsx").then((m) => m.ExtensionPairing),
  pool_create: () => import("./islands/pool_create.tsx").then((m) => m.PoolCreate),
  pool_actions: () => import("./islands/pool_actions.tsx").then((m) => m.PoolActions),
  earnings_claim: () => import("./islands/earnings_claim.tsx").then((m) => m.EarningsClaim),
  stream_live: () => import("./islands/stream_live.tsx").then((m) => m.StreamLive),
  stream_subscribe: () => import("./islands/stream_subscribe.tsx").then((m) => m.StreamSubscribe),
  stream_renew: () => import("./islands/stream_renew.tsx").then((m) => m.StreamRenew),
} satisfies Record<string, () => Promise<AnyComponent>>;

export type IslandName = keyof typeof islandLoaders;

/** Whether `name` is a known island. */
export function isIslandName(name: string): name is IslandName {
  return Object.hasOwn(islandLoaders, name);
}

/**
 * What the Streams page (`web/routes/streams.tsx`) shows, loaded at once: the streams this node knows
 * (its own and those announced on the network), its subscriptions, and — when it is a gateway — its sensors,
 * the owners it acts for and its ingest counters. A gateway part that fails (a node that never registered a
 * sensor answers empty lists) leaves that part empty rather than failing the page.
 *
 * ```ts
 * const data = await loadStreamsPage(api, { signal });
 * data.subscriptions[0].status; // "active"
 * ```
 */
import type { GatewayApi } from "../../protocol/api/gateway.ts";
import type {
  GatewayStatsView,
  OwnerView,
  SensorView,
  StreamsApi,
  StreamView,
  SubscriptionView,
} from "../../protocol/api/streams.ts";

export interface StreamsPageData {
  /** Known streams, this node's first, then newest first. */
  streams: StreamView[];
  /** Active and scheduled first, then the rest, newest first. */
  subscriptions: SubscriptionView[];
  sensors: SensorView[];
  owners: OwnerView[];
  /** Ingest counters; null when this node ingested nothing and registered no sensor. */
  stats: GatewayStatsView | null;
  /** ms since the epoch, when the page was rendered. */
  now: number;
}

export type StreamsPageFacade =
  & Pick<StreamsApi, "listStreams" | "listSubscriptions">
  & Pick<GatewayApi, "listSensors" | "listGatewayOwners" | "getGatewayStats">;

const LIVE: SubscriptionView["status"][] = ["active", "waiting-key", "paying", "quoting", "scheduled"];

export async function loadStreamsPage(
  facade: StreamsPageFacade,
  options: { signal?: AbortSignal } = {},
): Promise<StreamsPageData> {
  const { signal } = options;
  const [streams, subscriptions, sensors, owners, stats] = await Promise.all([
    facade.listStreams({ signal }).then((r) => r.streams),
    facade.listSubscriptions({ signal }).then((r) => r.subscriptions),
    facade.listSensors({ signal }).then((r) => r.sensors, () => []),
    facade.listGatewayOwners({ signal }).then((r) => r.owners, () => []),
    facade.getGatewayStats({ signal }).catch(() => null),
  ]);
  streams.sort((a, b) => Number(b.mine) - Number(a.mine) || b.createdAt - a.createdAt);
  const rank = (s: SubscriptionView) => (LIVE.includes(s.status) ? 0 : 1);
  subscriptions.sort((a, b) => rank(a) - rank(b) || b.from - a.from);
  const idle = stats !== null && sensors.length === 0 && stats.accepted === 0 && stats.mqtt.url === null;
  return { streams, subscriptions, sensors, owners, stats: idle ? null : stats, now: Date.now() };
}

/** Epochs a subscription of `seconds` starting at `now` buys, and its price (the node's formula). */
export function estimateSubscription(
  stream: Pick<StreamView, "epochSeconds" | "pricePerHour">,
  seconds: number,
  now: number,
): { first: number; last: number; from: number; to: number; price: bigint } {
  const epochMs = stream.epochSeconds * 1000;
  const first = Math.floor(now / epochMs);
  const last = Math.floor((now + seconds * 1000 - 1) / epochMs);
  const perEpoch = (BigInt(stream.pricePerHour) * BigInt(stream.epochSeconds) + 3599n) / 3600n;
  return {
    first,
    last,
    from: first * epochMs,
    to: (last + 1) * epochMs,
    price: BigInt(last - first + 1) * perEpoch,
  };
}

/**
 * `/streams` — real-time data sold by time span. Three parts:
 *
 * - "Your subscriptions": each subscription with its status, the span it bought and when it ends; a live
 *   one has the `stream_live` island (a uPlot chart fed by `GET /api/v1/subscriptions/:id/readings`, the
 *   latest value per sensor, the expiry counting down); an active or ended one also has the `stream_renew`
 *   island (how much longer, the epochs after the last one bought previewed with price and fee, confirmed);
 * - "Streams": the streams this node knows (its own and those announced on the network), with their sensors,
 *   price and epoch length; each one this node does not publish has the `stream_subscribe` island (a span,
 *   optional delivery targets, the price previewed and the fee confirmed);
 * - "Gateway" (when this node ingests readings): its sensors with their owners, consent and counters, the
 *   owners it acts for (identity proxies and owners' own wallets) and its ingest counters.
 */
import type { GatewayStatsView, OwnerView, SensorView, StreamView } from "../../protocol/api/streams.ts";
import { EmptyState } from "../components/empty_state.tsx";
import { Island } from "../components/island.tsx";
import { TableCard } from "../components/table_card.tsx";
import { formatDay, formatEther, shortenId } from "../format.ts";
import { StreamLive } from "../islands/stream_live.tsx";
import { StreamRenew } from "../islands/stream_renew.tsx";
import { StreamSubscribe } from "../islands/stream_subscribe.tsx";
import { definePage } from "../page.ts";
import { loadStreamsPage, type StreamsPageData } from "../streams/load.ts";

export const streamsPage = definePage<StreamsPageData>({
  path: "/streams",
  title: "Streams",
  description: "Real-time data, sold by time span and encrypted epoch by epoch.",
  load: ({ facade, signal }) => loadStreamsPage(facade, { signal }),
  Page: ({ data }) => (
    <>
      <Subscriptions data={data} />
      <Streams data={data} />
      {(data.sensors.length > 0 || data.owners.length > 0 || data.stats) && <Gateway data={data} />}
    </>
  ),
});

function Subscriptions({ data }: { data: StreamsPageData }) {
  if (data.subscriptions.length === 0) return null;
  const byId = new Map(data.streams.map((s) => [s.id, s]));
  return (
    <section class="card" data-testid="subscriptions">
      <h2>
        Your subscriptions <span class="badge">{data.subscriptions.length}</span>
      </h2>
      {data.subscriptions.map((sub) => {
        const stream = byId.get(sub.streamId);
        return (
          <article
            class="stream-subscription"
            key={sub.id}
            data-testid="subscription"
            data-subscription={sub.id}
          >
            <Island
              name="stream_live"
              component={StreamLive}
              props={{
                subscription: sub,
                schema: stream?.schema ?? [],
                sensors: stream?.sensors.map((s) => ({ sensorId: s.sensorId, label: s.label })) ?? [],
                now: data.now,
              }}
            />
            {(sub.status === "active" || sub.status === "ended") && (
              <Island
                name="stream_renew"
                component={StreamRenew}
                props={{ subscriptionId: sub.id, title: sub.title }}
              />
            )}
          </article>
        );
      })}
    </section>
  );
}

function Streams({ data }: { data: StreamsPageData }) {
  if (data.streams.length === 0) {
    return (
      <EmptyState icon="streams" title="No streams yet">
        Streams this node publishes and streams other nodes announce appear here. A gateway publishes one from
        registered sensors with <code>kosmos stream publish</code>.
      </EmptyState>
    );
  }
  return (
    <section class="card" data-testid="streams">
      <h2>
        Streams <span class="badge">{data.streams.length}</span>
      </h2>
      {data.streams.map((s) => <StreamCard stream={s} now={data.now} key={s.id} />)}
    </section>
  );
}

function StreamCard({ stream: s, now }: { stream: StreamView; now: number }) {
  const latest = s.epochs[0];
  return (
    <article class="stream-card" data-testid="stream" data-stream={s.id}>
      <header class="stream-card-head">
        <h3 data-testid="stream-title">{s.title}</h3>
        {s.mine && <span class="badge">published here</span>}
      </header>
      {s.description && <p class="muted">{s.description}</p>}
      <dl class="facts">
        <dt>Price</dt>
        <dd data-testid="stream-price">{formatEther(s.pricePerHour)} KOS per hour</dd>
        <dt>Epochs</dt>
        <dd>
          {formatSeconds(s.epochSeconds)} each{latest && (
            <>
              {" "}· latest {latest.epoch}
              {latest.contentCid ? `, sealed (${latest.rows} readings)` : latest.end > now ? ", open" : ""}
            </>
          )}
        </dd>
        <dt>Columns</dt>
        <dd>{s.schema.map((c) => `${c.name} (${c.type})`).join(", ")}</dd>
        <dt>Sensors</dt>
        <dd data-testid="stream-sensors">
          {s.sensors.map((x) => x.label ? `${x.label} (${x.sensorId})` : x.sensorId).join(", ")}
        </dd>
        <dt>Gateway</dt>
        <dd>
          <code title={s.gateway}>{shortenId(s.gateway, 10, 6)}</code> · owner{" "}
          <code title={s.owner}>{shortenId(s.owner, 10, 6)}</code>
        </dd>
        <dt>Licence</dt>
        <dd>{s.licence}</dd>
        <dt>Stream id</dt>
        <dd>
          <code class="cid" title={s.id}>{shortenId(s.id, 14, 8)}</code>
        </dd>
      </dl>
      {!s.mine && (
        <Island
          name="stream_subscribe"
          component={StreamSubscribe}
          props={{
            streamId: s.id,
            title: s.title,
            pricePerHour: s.pricePerHour,
            epochSeconds: s.epochSeconds,
          }}
        />
      )}
    </article>
  );
}

function Gateway({ data }: { data: StreamsPageData }) {
  const owners = new Map(data.owners.map((o) => [o.address.toLowerCase(), o]));
  return (
    <>
      {data.stats && <GatewayStats stats={data.stats} />}
      <TableCard
        title="Gateway sensors"
        count={data.sensors.length}
        class="sensors-table"
        data-testid="gateway-sensors"
        head={
          <>
            <th>Sensor</th>
            <th>Owner</th>
            <th>Consent</th>
            <th class="num">Accepted</th>
            <th class="num">Rejected</th>
            <th>Last reading</th>
          </>
        }
      >
        {data.sensors.length === 0 && (
          <tr>
            <td colSpan={6} class="muted">No sensors registered (kosmos gateway sensor add).</td>
          </tr>
        )}
        {data.sensors.map((s) => (
          <SensorRow sensor={s} owner={owners.get(s.owner.toLowerCase())} key={s.sensorId} />
        ))}
      </TableCard>
      <TableCard
        title="Owners"
        count={data.owners.length}
        class="owners-table"
        data-testid="gateway-owners"
        head={
          <>
            <th>Owner</th>
            <th>Wallet</th>
            <th>Key</th>
            <th class="num">Sensors</th>
          </>
        }
      >
        {data.owners.length === 0 && (
          <tr>
            <td colSpan={4} class="muted">No owners yet (kosmos gateway owner add).</td>
          </tr>
        )}
        {data.owners.map((o) => (
          <tr key={o.address} data-testid="owner" data-owner={o.address}>
            <td>{o.label}</td>
            <td>
              <code title={o.address}>{shortenId(o.address, 10, 6)}</code>
            </td>
            <td data-testid="owner-kind">
              {o.kind === "proxy"
                ? "held by this gateway (identity proxy)"
                : o.takenOverBy
                ? `taken over by ${shortenId(o.takenOverBy, 10, 6)}${
                  o.takenOverAt ? ` on ${formatDay(o.takenOverAt)}` : ""
                }`
                : "the owner's own wallet"}
            </td>
            <td class="num">
              {data.sensors.filter((s) => s.owner.toLowerCase() === o.address.toLowerCase()).length}
            </td>
          </tr>
        ))}
      </TableCard>
    </>
  );
}

function SensorRow({ sensor: s, owner }: { sensor: SensorView; owner: OwnerView | undefined }) {
  return (
    <tr data-testid="sensor" data-sensor={s.sensorId}>
      <td>
        {s.label || s.sensorId}
        {s.label && <div class="muted">{s.sensorId}</div>}
        {s.sensorKey && <div class="muted">signs its readings</div>}
      </td>
      <td>
        {owner?.label && <div>{owner.label}</div>}
        <code title={s.owner}>{shortenId(s.owner, 10, 6)}</code>
        {owner && <div class="muted">{owner.kind === "proxy" ? "identity proxy" : "own wallet"}</div>}
      </td>
      <td data-testid="sensor-consent">{s.consentValid ? "valid" : "revoked or missing"}</td>
      <td class="num">{s.accepted.toLocaleString("en-US")}</td>
      <td class="num">{s.rejected.toLocaleString("en-US")}</td>
      <td>{s.lastReadingAt ? formatDay(s.lastReadingAt) : "—"}</td>
    </tr>
  );
}

function GatewayStats({ stats }: { stats: GatewayStatsView }) {
  const rejected = Object.entries(stats.rejected).filter(([, n]) => n > 0);
  return (
    <section class="card" data-testid="gateway-stats">
      <h2>Gateway</h2>
      <dl class="facts">
        <dt>Accepted</dt>
        <dd data-testid="gateway-accepted">{stats.accepted.toLocaleString("en-US")} readings</dd>
        <dt>Rejected</dt>
        <dd>
          {rejected.length === 0
            ? "none"
            : rejected.map(([reason, n]) => `${reason}: ${n.toLocaleString("en-US")}`).join(", ")}
        </dd>
        <dt>MQTT</dt>
        <dd>
          {stats.mqtt.url === null
            ? "not configured (--mqtt-url)"
            : `${stats.mqtt.url} · ${stats.mqtt.connected ? "connected" : "disconnected"} · ${
              stats.mqtt.received.toLocaleString("en-US")
            } messages`}
        </dd>
        {stats.byClient.length > 0 && (
          <>
            <dt>Ingest clients</dt>
            <dd>
              {stats.byClient.map((c) => `${c.label}: ${c.accepted.toLocaleString("en-US")} accepted`).join(
                ", ",
              )}
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

/** `90 s`, `5 min`, `1 h`, `1 d 2 h`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  const d = Math.floor(seconds / 86_400);
  const h = Math.round((seconds % 86_400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

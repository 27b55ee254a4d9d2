/**
 * `/sites/:domain?period=day|7d|30d|month|all&compare=previous` — one site's
 * analytics dashboard: current visitors (live), the period's top figures
 * (with the change from the previous period when compared), the visitors
 * graph (server-rendered SVG; the `site_graph` island adds hover tooltips),
 * top pages, entry and exit pages, sources, referrers, UTM tags, devices,
 * browsers, operating systems and custom events, a CSV export, the one
 * line to paste into the site and, on the owner's node, "Sell statistics":
 * the site's privacy budget, its past releases and the form for a new one,
 * and "Proxies": events per proxy (the node that signed the batches) with a
 * button to block or unblock each.
 */
import { Island } from "../components/island.tsx";
import type { ChartSeries } from "../components/chart.tsx";
import { RELEASE_DIMENSION_OPTIONS, type SiteProxyView } from "../../protocol/api/mod.ts";
import { HttpError } from "../http_error.ts";
import { SiteGraph } from "../islands/site_graph.tsx";
import { SiteRealtime } from "../islands/site_realtime.tsx";
import { SellStatistics } from "../islands/sell_statistics.tsx";
import { definePage } from "../page.ts";
import { type Breakdown, loadDashboard, type SalesData, type SiteDashboard } from "../dashboard/load.ts";
import { type Granularity, parsePeriod, type Period, PERIODS, SUMMARY_METRICS } from "../dashboard/series.ts";

export const sitePage = definePage<SiteDashboard>({
  path: "/sites/:domain",
  title: "Site analytics",
  description: "Cookie-less statistics of one website: who came, from where, and what they read.",
  load: async ({ facade, url, origin, signal }) => {
    const domain = decodeURIComponent(url.pathname.split("/")[2] ?? "");
    const period = parsePeriod(url.searchParams.get("period"));
    const compare = url.searchParams.get("compare") === "previous" && period !== "all";
    try {
      return await loadDashboard(facade, domain, { period, compare, origin, signal });
    } catch (err) {
      const name = (err as Error).name;
      if (name === "NotFoundError" || name === "TypeError") {
        throw new HttpError(
          404,
          "not_found",
          `No site "${domain.slice(0, 80)}" on this node: it owns no such site and has no events for it`,
        );
      }
      throw err;
    }
  },
  Page: ({ data }) => <Dashboard data={data} />,
});

const SUMMARY_LABELS: Record<(typeof SUMMARY_METRICS)[number], string> = {
  visitors: "Unique visitors",
  visits: "Total visits",
  pageviews: "Total pageviews",
  views_per_visit: "Views per visit",
  bounce_rate: "Bounce rate",
  visit_duration: "Visit duration",
  events: "Total events",
};

function Dashboard({ data }: { data: SiteDashboard }) {
  const base = `/sites/${encodeURIComponent(data.domain)}`;
  const link = (period: Period, compare: boolean) =>
    `${base}?period=${period}${compare && period !== "all" ? "&compare=previous" : ""}`;
  const labels = data.series.points.map((p) => formatBucket(p.label, data.series.granularity, "short"));
  const titles = data.series.points.map((p) => formatBucket(p.label, data.series.granularity, "long"));
  const series: ChartSeries[] = [{ name: "Visitors", values: data.series.points.map((p) => p.values[0]) }];
  let compareTitles: string[] = [];
  if (data.previousSeries) {
    const prev = data.previousSeries;
    series.push({ name: "Previous period", compare: true, values: prev.points.map((p) => p.values[0]) });
    compareTitles = prev.points.map((p) => formatBucket(p.label, prev.granularity, "long"));
  }
  const snippet =
    `<script defer data-domain="${data.domain}" data-api="${data.origin}" src="${data.origin}/js/kosmos.js"></script>`;
  return (
    <>
      <section class="card site-head">
        <div class="site-title">
          <h2 class="site-domain" data-testid="site-domain">{data.domain}</h2>
          <Island
            name="site_realtime"
            component={SiteRealtime}
            props={{ domain: data.domain, visitors: data.realtime }}
          />
        </div>
        <nav class="period-picker" aria-label="Period">
          {PERIODS.map((p) => (
            <a
              key={p.id}
              href={link(p.id, data.compare)}
              class={p.id === data.period ? "period active" : "period"}
              aria-current={p.id === data.period ? "page" : undefined}
            >
              {p.label}
            </a>
          ))}
          {data.period !== "all" && (
            <a
              href={link(data.period, !data.compare)}
              class={data.compare ? "period active" : "period"}
              data-testid="compare-toggle"
            >
              {data.compare ? "✓ Compared with previous period" : "Compare with previous period"}
            </a>
          )}
          <a
            class="button button-secondary export"
            href={`/api/v1/sites/${encodeURIComponent(data.domain)}/export.csv?period=${data.period}`}
            download
          >
            Export CSV
          </a>
          {data.proxies && (
            <a
              class="button button-secondary export"
              href={`/sites/${encodeURIComponent(data.domain)}/settings`}
              data-testid="settings-link"
            >
              Goals, funnels and API keys
            </a>
          )}
        </nav>
      </section>

      <section class="card top-stats" data-testid="top-stats">
        {SUMMARY_METRICS.filter((m) => m !== "events").map((metric) => {
          const i = SUMMARY_METRICS.indexOf(metric);
          return (
            <div class="top-stat" key={metric} data-metric={metric}>
              <span class="top-stat-label">{SUMMARY_LABELS[metric]}</span>
              <span class="top-stat-value">{formatMetric(metric, data.summary[i])}</span>
              {data.previous && <Change metric={metric} now={data.summary[i]} before={data.previous[i]} />}
            </div>
          );
        })}
        <div class="chart-card">
          <Island
            name="site_graph"
            component={SiteGraph}
            props={{ labels, titles, series, compareTitles }}
          />
        </div>
      </section>

      <div class="breakdowns">
        {data.breakdowns.map((b) => <BreakdownTable key={b.id} breakdown={b} />)}
      </div>

      {data.sales && <SellSection domain={data.domain} sales={data.sales} />}
      {data.proxies && <ProxiesSection domain={data.domain} proxies={data.proxies} />}

      <section class="card snippet" data-testid="snippet">
        <h2>Add the tracker to {data.domain}</h2>
        <p class="muted">
          Paste this line into the <code>&lt;head&gt;</code>{" "}
          of every page. It sets no cookies, and sends nothing when Do-Not-Track or Global Privacy Control is
          on; <code>kosmos.consent(true)</code>{" "}
          marks the events of a visitor who agreed (remembered in the browser). Any Kosmos node can take the
          events: change both addresses to use another one. Plausible's own tracker works too, pointed at{" "}
          <code>/api/event</code>.
        </p>
        <pre class="snippet-code"><code>{snippet}</code></pre>
        <p>
          <a href={`/sites/${encodeURIComponent(data.domain)}/history`} data-testid="history-link">
            Import history from Plausible or Google Analytics, and set first-party tracker paths →
          </a>
        </p>
      </section>
    </>
  );
}

function ProxiesSection({ domain, proxies }: { domain: string; proxies: SiteProxyView[] }) {
  const base = `/api/v1/sites/${encodeURIComponent(domain)}/proxies`;
  return (
    <section class="card" id="proxies" data-testid="site-proxies">
      <h2>Proxies</h2>
      <p class="muted">
        The nodes that collected this site's events and signed the batches they sealed. Block one to refuse
        its batches from now on.
      </p>
      {proxies.length === 0
        ? <p class="muted">No proxy has delivered events yet.</p>
        : (
          <table class="breakdown">
            <thead>
              <tr>
                <th>Proxy</th>
                <th class="num">Events</th>
                <th class="num">Today</th>
                <th class="num">Batches</th>
                <th class="num">Refused</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {proxies.map((p) => (
                <tr key={p.peerId} data-proxy={p.peerId} data-blocked={p.blocked ? "true" : "false"}>
                  <td>
                    <code title={p.peerId}>{p.peerId.slice(0, 12)}…{p.peerId.slice(-6)}</code>
                    {p.blocked && <span class="badge badge-blocked">Blocked</span>}
                  </td>
                  <td class="num">{p.events.toLocaleString("en-US")}</td>
                  <td class="num">{p.today.toLocaleString("en-US")}</td>
                  <td class="num">{p.batches.toLocaleString("en-US")}</td>
                  <td class="num">{p.refused.toLocaleString("en-US")}</td>
                  <td>
                    <form
                      method="post"
                      action={`${base}/${encodeURIComponent(p.peerId)}/${p.blocked ? "unblock" : "block"}`}
                    >
                      <button type="submit" class="button button-small" data-testid="proxy-block">
                        {p.blocked ? "Unblock" : "Block"}
                      </button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </section>
  );
}

function SellSection({ domain, sales }: { domain: string; sales: SalesData }) {
  return (
    <section class="card sell-statistics" id="sell-statistics" data-testid="sell-statistics">
      <Island
        name="sell_statistics"
        component={SellStatistics}
        props={{
          domain,
          budget: sales.budget,
          releases: sales.releases,
          policy: sales.policy,
          from: sales.from,
          to: sales.to,
          today: sales.today,
          dimensions: RELEASE_DIMENSION_OPTIONS,
        }}
      />
    </section>
  );
}

function Change({ metric, now, before }: { metric: string; now: number; before: number }) {
  if (before === 0 && now === 0) return <span class="change muted-inline">no change</span>;
  if (before === 0) return <span class="change change-up">new</span>;
  const pct = Math.round(((now - before) / before) * 100);
  const better = metric === "bounce_rate" ? pct < 0 : pct > 0;
  const cls = pct === 0 ? "change" : better ? "change change-good" : "change change-bad";
  return (
    <span class={cls} title={`Previous period: ${formatMetric(metric, before)}`}>
      {pct > 0 ? "↑" : pct < 0 ? "↓" : ""} {Math.abs(pct)}%
    </span>
  );
}

function BreakdownTable({ breakdown: b }: { breakdown: Breakdown }) {
  const max = Math.max(1, ...b.rows.map((r) => r.metrics[0]));
  return (
    <section class="card breakdown" data-testid={`breakdown-${b.id}`}>
      <h2>{b.title}</h2>
      {b.rows.length === 0 ? <p class="empty">{b.empty}</p> : (
        <table class="breakdown-table">
          <thead>
            <tr>
              <th>{b.label}</th>
              {b.columns.map((c) => <th key={c} class="num">{c}</th>)}
            </tr>
          </thead>
          <tbody>
            {b.rows.map((r) => (
              <tr key={r.dimensions.join("\u0000")}>
                <td class="bar-cell">
                  <span class="bar" style={{ width: `${(r.metrics[0] / max) * 100}%` }} />
                  <span class="bar-label" title={r.dimensions[0]}>{r.dimensions[0]}</span>
                </td>
                {r.metrics.map((v, i) => <td key={i} class="num">{v.toLocaleString("en-US")}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A metric as people read it: 1,234 · 1.75 · 50% · 2m 38s. */
export function formatMetric(metric: string, value: number): string {
  if (metric === "bounce_rate") return `${value}%`;
  if (metric === "visit_duration") return formatDuration(value);
  return value.toLocaleString("en-US");
}

/** 158 → "2m 38s"; 3725 → "1h 2m"; 9 → "9s". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** A bucket label of the query API ("2024-03-15 10:00:00", "2024-03-15") for the graph. */
export function formatBucket(label: string, granularity: Granularity, style: "short" | "long"): string {
  const d = new Date(`${label.slice(0, 10)}T00:00:00Z`);
  const month = MONTHS[d.getUTCMonth()];
  if (granularity === "hour") {
    const h = label.slice(11, 16);
    return style === "short" ? h : `${d.getUTCDate()} ${month}, ${h} UTC`;
  }
  if (granularity === "month") return `${month} ${d.getUTCFullYear()}`;
  return style === "short"
    ? `${d.getUTCDate()} ${month}`
    : `${WEEKDAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${month} ${d.getUTCFullYear()}`;
}

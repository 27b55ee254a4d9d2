/**
 * `/sites` — the websites whose analytics this node holds: every site with
 * events (visitors and pageviews of the last 30 days, last activity) and the
 * sites this node owns that have not sent any yet, each linking to its
 * dashboard at `/sites/:domain`.
 */
import type { AnalyticsSiteView } from "../facade.ts";
import { EmptyState } from "../components/empty_state.tsx";
import { definePage } from "../page.ts";

interface SitesData {
  sites: AnalyticsSiteView[];
  /** Sites this node owns without events yet. */
  waiting: string[];
  now: number;
}

export const sitesPage = definePage<SitesData>({
  path: "/sites",
  title: "Sites",
  description: "Cookie-less, anonymized statistics for websites that send page views to this node.",
  load: async ({ facade, signal }) => {
    const [sites, owned] = await Promise.all([
      facade.listAnalyticsSites({ signal }),
      facade.listSites({ signal }).catch(() => []),
    ]);
    const withEvents = new Set(sites.map((s) => s.domain));
    return {
      sites,
      waiting: owned.map((s) => s.domain).filter((d) => !withEvents.has(d)).sort(),
      now: Date.now(),
    };
  },
  Page: ({ data }) => {
    if (data.sites.length === 0 && data.waiting.length === 0) {
      return (
        <EmptyState icon="sites" title="No sites yet">
          Once a website sends page views to this node through the Kosmos SDK, its dashboard appears here.
          Register a site with <code>POST /api/v1/sites</code> to get the line to paste into its pages.
        </EmptyState>
      );
    }
    return (
      <section class="card">
        <h2>
          Sites <span class="badge">{data.sites.length + data.waiting.length}</span>
        </h2>
        <div class="table-wrap">
          <table class="sites-table" data-testid="sites">
            <thead>
              <tr>
                <th>Site</th>
                <th class="num">Visitors (30 days)</th>
                <th class="num">Pageviews (30 days)</th>
                <th class="num">Events, all time</th>
                <th>Last event</th>
              </tr>
            </thead>
            <tbody>
              {data.sites.map((s) => (
                <tr key={s.domain} data-domain={s.domain}>
                  <td>
                    <a href={`/sites/${encodeURIComponent(s.domain)}`} class="site-link">{s.domain}</a>
                  </td>
                  <td class="num">{s.visitors.toLocaleString("en-US")}</td>
                  <td class="num">{s.pageviews.toLocaleString("en-US")}</td>
                  <td class="num">{s.events.toLocaleString("en-US")}</td>
                  <td>
                    <time dateTime={new Date(s.lastEventAt).toISOString()}>
                      {formatAgo(data.now - s.lastEventAt)}
                    </time>
                  </td>
                </tr>
              ))}
              {data.waiting.map((domain) => (
                <tr key={domain} data-domain={domain}>
                  <td>
                    <a href={`/sites/${encodeURIComponent(domain)}`} class="site-link">{domain}</a>
                  </td>
                  <td class="muted-inline" colSpan={4}>
                    Waiting for the first page view — open it for the snippet
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    );
  },
});

/** 42_000 → "just now"; 3_600_000 → "1 h ago". */
export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} days ago`;
}

/**
 * `/sites/:domain/history` — on the owner's node, a site's history from
 * another tool and how its tracker is reached: the imports of each source
 * (Plausible CSV export, GA4 export) with an upload form, and the site's
 * first-party script and event paths with the snippet to paste. The forms work
 * without JavaScript: they post `web/routes/api/imports.ts` and
 * `site_paths.ts`, which come back here with `?saved=` or `?error=`.
 */
import type { AnalyticsImportView, SitePathsView } from "../../protocol/api/mod.ts";
import { HttpError } from "../http_error.ts";
import { definePage } from "../page.ts";

interface HistoryData {
  domain: string;
  imports: AnalyticsImportView[];
  paths: SitePathsView;
  saved: string | null;
  error: string | null;
}

const SOURCE_NAMES: Record<string, string> = {
  "plausible-csv": "Plausible CSV export",
  ga4: "Google Analytics 4",
};

export const siteHistoryPage = definePage<HistoryData>({
  path: "/sites/:domain/history",
  title: "Imported history and tracker paths",
  description:
    "A site's history imported from Plausible or Google Analytics, and its first-party tracker paths.",
  load: async ({ facade, url }) => {
    const domain = decodeURIComponent(url.pathname.split("/")[2] ?? "");
    try {
      const [imports, paths] = await Promise.all([
        facade.listAnalyticsImports(domain),
        facade.getSitePaths(domain),
      ]);
      const q = url.searchParams;
      return { domain, imports, paths, saved: q.get("saved"), error: q.get("error") };
    } catch (err) {
      if ((err as Error).name === "NotFoundError") {
        throw new HttpError(404, "not_found", `No site "${domain.slice(0, 80)}" is registered on this node`);
      }
      throw err;
    }
  },
  Page: ({ data }) => <History data={data} />,
});

function History({ data }: { data: HistoryData }) {
  const api = `/api/v1/sites/${encodeURIComponent(data.domain)}`;
  const script = data.paths.scriptPath ?? "/js/kosmos.js";
  const endpoint = data.paths.eventPath;
  return (
    <>
      <p>
        <a href={`/sites/${encodeURIComponent(data.domain)}`}>← {data.domain}'s dashboard</a>
      </p>
      {data.saved && <p class="notice" data-testid="history-saved">{data.saved}</p>}
      {data.error && <p class="notice notice-error" role="alert" data-testid="history-error">{data.error}</p>}

      <section class="card" id="imports" data-testid="imports">
        <h2>Imported history</h2>
        <p class="muted">
          Days from another analytics tool, kept apart from the events this node recorded. Stats API queries
          count them with{" "}
          <code>"include": {"{"} "imports": true {"}"}</code>. Importing again replaces the days the file
          covers.
        </p>
        {data.imports.length === 0 ? <p class="muted">Nothing imported yet.</p> : (
          <table class="breakdown">
            <thead>
              <tr>
                <th>Source</th>
                <th>Days</th>
                <th class="num">Visitors</th>
                <th class="num">Pageviews</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {data.imports.map((i) => (
                <tr key={i.source} data-import={i.source}>
                  <td>{SOURCE_NAMES[i.source] ?? i.source}</td>
                  <td>{i.from} … {i.to} ({i.days})</td>
                  <td class="num">{i.visitors}</td>
                  <td class="num">{i.pageviews}</td>
                  <td>
                    <form method="post" action={`${api}/imports/${encodeURIComponent(i.source)}/delete`}>
                      <button type="submit" class="button button-small">Remove</button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <form
          method="post"
          action={`${api}/imports`}
          enctype="multipart/form-data"
          class="form-grid"
          data-testid="import-form"
        >
          <label>
            Export file (Plausible: the zip or a CSV of it; GA4: BigQuery export as NDJSON or a zip)
            <input type="file" name="file" required accept=".zip,.csv,.json,.jsonl,.ndjson" />
          </label>
          <button type="submit" class="button">Import</button>
        </form>
      </section>

      <section class="card" id="paths" data-testid="paths">
        <h2>First-party tracker paths</h2>
        <p class="muted">
          Paths of your choosing at which this node serves the tracker and takes events, so that a reverse
          proxy on your own domain can forward them and blockers find no known name. Leave both empty for
          none.
        </p>
        <form method="post" action={`${api}/paths`} class="form-grid" data-testid="paths-form">
          <label>
            Script path{" "}
            <input
              name="scriptPath"
              maxLength={100}
              placeholder="/js/stats.js"
              value={data.paths.scriptPath ?? ""}
            />
          </label>
          <label>
            Event path{" "}
            <input
              name="eventPath"
              maxLength={100}
              placeholder="/x/collect"
              value={data.paths.eventPath ?? ""}
            />
          </label>
          <button type="submit" class="button">Save paths</button>
        </form>
        <p class="muted">Snippet for a page served through such a proxy:</p>
        <pre><code>{`<script defer data-domain="${data.domain}"${endpoint ? ` data-api="${endpoint}"` : ""} src="${script}"></script>`}</code></pre>
      </section>
    </>
  );
}

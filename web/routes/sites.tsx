/**
 * `/sites` — the websites whose analytics this node holds: every site with
 * events (visitors and pageviews of the last 30 days, last activity) and the
 * sites this node owns that have not sent any yet, each linking to its
 * dashboard at `/sites/:domain`. A form registers a new site on this node: it
 * posts to `POST /api/v1/sites`, which redirects back here with the new
 * site's snippet or the reason it was refused, shown next to the field.
 * "Your sites" lists this node's registrations: a pending one shows the exact
 * proof to publish and where, what the last look for it found, and a "Check
 * now" button (`POST /api/v1/sites/:domain/check`) and a "Remove" button
 * (`POST /api/v1/sites/:domain/remove`) that drops the registration.
 */
import type { AnalyticsSiteView, SiteView } from "../../protocol/api/mod.ts";
import { EmptyState } from "../components/empty_state.tsx";
import { TableCard } from "../components/table_card.tsx";
import { definePage } from "../page.ts";
import { type SiteFormError, withSnippet } from "./api/sites.ts";
import { MAX_DOMAIN_LENGTH } from "../../protocol/analytics.ts";

interface SitesData {
  sites: AnalyticsSiteView[];
  /** Sites this node owns without events yet. */
  waiting: string[];
  /** This node's registrations, pending and verified. */
  owned: SiteView[];
  /** The site whose proof "Check now" just looked for. */
  checked?: string;
  /** The site "Remove" just dropped. */
  removed?: string;
  now: number;
  /** A site the form just registered, with its snippet. */
  registered?: { domain: string; snippet: string };
  /** Why the form's last post was refused, and what was typed. */
  formError?: { code: SiteFormError; domain: string };
}

const FORM_ERRORS: Record<SiteFormError, (domain: string) => string> = {
  invalid: (domain) =>
    `${domain ? `"${domain}" is not a domain name.` : "Enter a domain name."} ` +
    "Type the host name only, such as example.com or blog.example.org, without a path.",
};

export const sitesPage = definePage<SitesData>({
  path: "/sites",
  title: "Sites",
  description: "Cookie-less, anonymized statistics for websites that send page views to this node.",
  load: async ({ facade, url, origin, signal }) => {
    const [sites, owned] = await Promise.all([
      facade.listAnalyticsSites({ signal }),
      facade.listSites({ signal }).catch(() => []),
    ]);
    const withEvents = new Set(sites.map((s) => s.domain));
    const data: SitesData = {
      sites,
      waiting: owned.map((s) => s.domain).filter((d) => !withEvents.has(d)).sort(),
      owned,
      now: Date.now(),
    };
    const checked = url.searchParams.get("checked");
    if (checked && owned.some((s) => s.domain === checked)) data.checked = checked;
    const removed = url.searchParams.get("removed");
    if (removed && !owned.some((s) => s.domain === removed)) data.removed = removed.slice(0, 300);
    const registered = owned.find((s) => s.domain === url.searchParams.get("registered"));
    if (registered) {
      data.registered = { domain: registered.domain, snippet: withSnippet(registered, origin).snippet };
    }
    const code = url.searchParams.get("error");
    if (code === "invalid") {
      data.formError = { code, domain: (url.searchParams.get("domain") ?? "").slice(0, 300) };
    }
    return data;
  },
  Page: ({ data }) => (
    <>
      <RegisterSiteForm data={data} />
      {data.registered && <Registered {...data.registered} />}
      {data.removed && (
        <p class="card" role="status" data-testid="site-removed">
          Removed {data.removed}: this node takes no more events for it. Take its proof off {data.removed}
          {" "}
          as well, so other nodes drop it too.
        </p>
      )}
      {data.owned.length > 0 && <OwnSites data={data} />}
      {data.sites.length === 0 && data.waiting.length === 0
        ? (
          <EmptyState icon="sites" title="No sites yet">
            Register a site above to get the line to paste into its pages. Once it sends page views to any
            Kosmos node, its dashboard appears here.
          </EmptyState>
        )
        : <SitesTable data={data} />}
    </>
  ),
});

function RegisterSiteForm({ data }: { data: SitesData }) {
  const error = data.formError;
  return (
    <form class="card" method="post" action="/api/v1/sites" data-testid="site-form">
      <h2>Register a site</h2>
      <div class="form-grid">
        <label class="field field-wide">
          <span>Domain</span>
          <input
            name="domain"
            required
            maxLength={MAX_DOMAIN_LENGTH + 20}
            autocomplete="off"
            spellcheck={false}
            placeholder="example.com"
            value={error?.domain ?? ""}
            aria-invalid={error ? "true" : undefined}
            aria-describedby={error ? "site-form-error" : "site-form-hint"}
            data-testid="site-domain-input"
          />
          <span class="dropzone-hint" id="site-form-hint">
            The site's host name. Proxies seal its events to this node's key; only this node can read them.
          </span>
        </label>
      </div>
      {error && (
        <p class="form-error" role="alert" id="site-form-error" data-testid="site-form-error">
          {FORM_ERRORS[error.code](error.domain)}
        </p>
      )}
      <div class="form-actions">
        <button type="submit" class="button" data-testid="site-register">Register site</button>
      </div>
    </form>
  );
}

function Registered({ domain, snippet }: { domain: string; snippet: string }) {
  return (
    <section class="card snippet" role="status" data-testid="site-registered">
      <h2>Registered {domain}</h2>
      <p class="muted">
        Once <strong>{domain}</strong>{" "}
        publishes its proof (below, under "Your sites"), every Kosmos node learns that its events belong to
        this node. Paste this line into the <code>&lt;head&gt;</code> of every page of the site:
      </p>
      <pre class="snippet-code"><code>{snippet}</code></pre>
      <p class="muted">
        <a href={`/sites/${encodeURIComponent(domain)}`}>Open its dashboard</a>
      </p>
    </section>
  );
}

function OwnSites({ data }: { data: SitesData }) {
  return (
    <section class="card" data-testid="own-sites">
      <h2>Your sites</h2>
      {data.owned.map((site) => (
        <div key={site.domain} class="site-claim" data-domain={site.domain} data-status={site.status}>
          <h3>
            {site.domain}{" "}
            <span class={`badge badge-${site.status}`} data-testid="site-status">
              {site.status === "verified" ? "Verified" : "Pending"}
            </span>
          </h3>
          {site.status === "pending"
            ? (
              <>
                <p class="muted">
                  No node takes events for {site.domain}{" "}
                  until it proves that you run it. Publish exactly this document at{" "}
                  <code data-testid="site-proof-url">{site.proofUrl}</code>{" "}
                  (status 200; a redirect may only stay on the same host), then check:
                </p>
                <pre class="snippet-code"><code data-testid="site-proof">{site.proof}</code></pre>
                {site.heldBy && (
                  <p class="muted" data-testid="site-held-by">
                    Another node ({site.heldBy.peerId.slice(0, 16)}…) holds {site.domain}{" "}
                    now. Publishing this proof there hands it to this node.
                  </p>
                )}
              </>
            )
            : (
              <p class="muted">
                {site.domain} publishes this node's proof at <code>{site.proofUrl}</code>; keep it there.
              </p>
            )}
          {site.proofError && (
            <p
              class="form-error"
              role={data.checked === site.domain ? "alert" : undefined}
              data-testid="site-proof-error"
            >
              {site.checkedAt !== undefined ? `Checked ${formatAgo(data.now - site.checkedAt)}: ` : ""}
              {site.proofError}
            </p>
          )}
          {data.checked === site.domain && site.status === "verified" && (
            <p role="status" data-testid="site-checked">Found the proof: {site.domain} is verified.</p>
          )}
          <div class="form-actions site-actions">
            <form method="post" action={`/api/v1/sites/${encodeURIComponent(site.domain)}/check`}>
              <button type="submit" class="button" data-testid="site-check">Check now</button>
            </form>
            <form method="post" action={`/api/v1/sites/${encodeURIComponent(site.domain)}/remove`}>
              <button
                type="submit"
                class="button button-secondary"
                data-testid="site-remove"
                aria-label={`Remove ${site.domain}`}
              >
                Remove
              </button>
            </form>
          </div>
        </div>
      ))}
    </section>
  );
}

function SitesTable({ data }: { data: SitesData }) {
  return (
    <TableCard
      title="Sites"
      count={data.sites.length + data.waiting.length}
      class="sites-table"
      data-testid="sites"
      head={
        <>
          <th>Site</th>
          <th class="num">Visitors (30 days)</th>
          <th class="num">Pageviews (30 days)</th>
          <th class="num">Events, all time</th>
          <th>Last event</th>
        </>
      }
    >
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
            Waiting for the first page view —{" "}
            <a href={`/sites/${encodeURIComponent(domain)}`} data-testid="snippet-link">
              get the snippet
            </a>
          </td>
        </tr>
      ))}
    </TableCard>
  );
}

/** 42_000 → "just now"; 3_600_000 → "1 h ago". */
export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} days ago`;
}

/**
 * `/sites/:domain/settings` — on the owner's node, what Plausible's Stats API
 * needs of a site: its goals (pageview goals by page path with `*`/`**`,
 * custom event goals, optionally with a revenue currency and custom props),
 * funnels of 2–8 goals (with the visitors of each step over a chosen range),
 * and site API keys for `/api/v2/query` and `/api/v1/stats/*` (created here,
 * shown once, revoked here). Every form works without JavaScript and posts
 * the routes of `web/routes/api/goals.ts`, which come back here with
 * `?saved=` or `?error=`.
 */
import type { ApiKeyView, FunnelResultView, FunnelView, GoalView } from "../../protocol/api/mod.ts";
import { HttpError } from "../http_error.ts";
import { definePage } from "../page.ts";

interface SettingsData {
  domain: string;
  goals: GoalView[];
  funnels: FunnelView[];
  keys: ApiKeyView[];
  result: FunnelResultView | null;
  range: { from: string; to: string };
  saved: string | null;
  error: string | null;
}

const DAY = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export const siteSettingsPage = definePage<SettingsData>({
  path: "/sites/:domain/settings",
  title: "Goals, funnels and API keys",
  description: "What Plausible's Stats API counts as conversions for this site, and who may ask it.",
  load: async ({ facade, url, signal }) => {
    const domain = decodeURIComponent(url.pathname.split("/")[2] ?? "");
    const q = url.searchParams;
    const today = Math.floor(Date.now() / DAY) * DAY;
    const range = { from: q.get("from") ?? day(today - 29 * DAY), to: q.get("to") ?? day(today) };
    try {
      const [goals, funnels, keys] = await Promise.all([
        facade.listGoals(domain),
        facade.listFunnels(domain),
        facade.listApiKeys(domain),
      ]);
      const funnelId = q.get("funnel");
      let result: FunnelResultView | null = null;
      let error = q.get("error");
      if (funnelId) {
        try {
          result = await facade.getFunnelResult(domain, funnelId, range, { signal });
        } catch (err) {
          if ((err as Error).name !== "TypeError" && (err as Error).name !== "NotFoundError") throw err;
          error = (err as Error).message;
        }
      }
      return { domain, goals, funnels, keys, result, range, saved: q.get("saved"), error };
    } catch (err) {
      if ((err as Error).name === "NotFoundError") {
        throw new HttpError(404, "not_found", `No site "${domain.slice(0, 80)}" is registered on this node`);
      }
      throw err;
    }
  },
  Page: ({ data }) => <Settings data={data} />,
});

function Settings({ data }: { data: SettingsData }) {
  const api = `/api/v1/sites/${encodeURIComponent(data.domain)}`;
  const goalName = new Map(data.goals.map((g) => [g.id, g.name]));
  return (
    <>
      <p>
        <a href={`/sites/${encodeURIComponent(data.domain)}`}>← {data.domain}'s dashboard</a>
      </p>
      {data.saved && <p class="card" role="status" data-testid="settings-saved">{data.saved}</p>}
      {data.error && <p class="form-error" role="alert" data-testid="settings-error">{data.error}</p>}

      <section class="card" id="goals" data-testid="goals">
        <h2>Goals</h2>
        <p class="muted">
          A goal is a page (<code>/blog/*</code> one level, <code>/blog/**</code>{" "}
          any depth) or a custom event. Queries name it by its name in{" "}
          <code>event:goal</code>; a currency makes an event goal count revenue.
        </p>
        {data.goals.length === 0 ? <p class="muted">No goals yet.</p> : (
          <table class="breakdown-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Matches</th>
                <th>Currency</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {data.goals.map((g) => (
                <tr key={g.id} data-goal={g.name}>
                  <td>{g.name}</td>
                  <td>{g.kind === "pageview" ? "Page" : "Event"}</td>
                  <td>
                    <code>{g.match}</code>
                    {g.customProps &&
                      Object.entries(g.customProps).map(([k, v]) => <span class="badge" key={k}>{k}={v}
                      </span>)}
                  </td>
                  <td>{g.currency ?? ""}</td>
                  <td>
                    <form method="post" action={`${api}/goals/${encodeURIComponent(g.id)}/delete`}>
                      <button type="submit" class="button button-secondary">Delete</button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <form method="post" action={`${api}/goals`} class="form-grid" data-testid="goal-form">
          <label class="field">
            <span>Kind</span>
            <select name="kind">
              <option value="event">Custom event</option>
              <option value="pageview">Page visit</option>
            </select>
          </label>
          <label class="field">
            <span>Event name or page path</span>
            <input name="match" required maxLength={2048} placeholder="Signup or /blog/**" />
          </label>
          <label class="field">
            <span>Name (optional)</span> <input name="name" maxLength={120} />
          </label>
          <label class="field">
            <span>Revenue currency (optional)</span> <input name="currency" maxLength={3} placeholder="EUR" />
          </label>
          <label class="field">
            <span>Custom props (optional, key=value per line)</span> <textarea name="customProps" rows={2} />
          </label>
          <button type="submit" class="button">Add goal</button>
        </form>
      </section>

      <section class="card" id="funnels" data-testid="funnels">
        <h2>Funnels</h2>
        <p class="muted">2 to 8 goals a visitor completes in this order within one visit.</p>
        {data.funnels.length === 0 ? <p class="muted">No funnels yet.</p> : (
          <ul>
            {data.funnels.map((f) => (
              <li key={f.id} data-funnel={f.name}>
                <a
                  href={`?funnel=${
                    encodeURIComponent(f.id)
                  }&from=${data.range.from}&to=${data.range.to}#funnels`}
                >
                  {f.name}
                </a>: {f.steps.map((s) => goalName.get(s) ?? "?").join(" → ")}
                <form
                  method="post"
                  action={`${api}/funnels/${encodeURIComponent(f.id)}/delete`}
                  class="inline"
                >
                  <button type="submit" class="button button-secondary">Delete</button>
                </form>
              </li>
            ))}
          </ul>
        )}
        {data.result && <FunnelResult result={data.result} />}
        {data.goals.length >= 2 && (
          <form method="post" action={`${api}/funnels`} class="form-grid" data-testid="funnel-form">
            <label class="field">
              <span>Name</span> <input name="name" required maxLength={120} />
            </label>
            {[0, 1, 2, 3].map((i) => (
              <label key={i} class="field">
                <span>Step {i + 1}{i >= 2 ? " (optional)" : ""}</span>
                <select name="steps">
                  {i >= 2 && <option value="">—</option>}
                  {data.goals.map((g, j) => (
                    <option key={g.id} value={g.id} selected={i < 2 && j === i}>{g.name}</option>
                  ))}
                </select>
              </label>
            ))}
            <button type="submit" class="button">Add funnel</button>
          </form>
        )}
      </section>

      <section class="card" id="api-keys" data-testid="api-keys">
        <h2>Stats API keys</h2>
        <p class="muted">
          A key answers <code>POST /api/v2/query</code> and <code>GET /api/v1/stats/*</code>{" "}
          (as Plausible's Stats API) for {data.domain}{" "}
          only. It is shown once when created; this node keeps only its hash.
        </p>
        {data.keys.length === 0 ? <p class="muted">No keys.</p> : (
          <table class="breakdown-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Ends with</th>
                <th>Created</th>
                <th>Last used</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {data.keys.map((k) => (
                <tr key={k.id} data-key={k.name}>
                  <td>{k.name}</td>
                  <td>
                    <code>…{k.hint}</code>
                  </td>
                  <td>{day(k.createdAt)}</td>
                  <td>
                    {k.lastUsedAt === null ? "never" : new Date(k.lastUsedAt).toISOString().slice(0, 16)}
                  </td>
                  <td>
                    <form method="post" action={`${api}/api-keys/${encodeURIComponent(k.id)}/revoke`}>
                      <button type="submit" class="button button-secondary">Revoke</button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <form method="post" action={`${api}/api-keys`} class="form-grid" data-testid="api-key-form">
          <label class="field">
            <span>Name</span> <input name="name" required maxLength={120} placeholder="reporting script" />
          </label>
          <button type="submit" class="button">Create key</button>
        </form>
      </section>
    </>
  );
}

function FunnelResult({ result }: { result: FunnelResultView }) {
  return (
    <div data-testid="funnel-result">
      <h3>
        {result.funnel.name}, {result.from} to {result.to}
      </h3>
      <table class="breakdown-table">
        <thead>
          <tr>
            <th>Step</th>
            <th class="num">Visitors</th>
            <th class="num">Conversion</th>
            <th class="num">Dropped</th>
          </tr>
        </thead>
        <tbody>
          {result.steps.map((s, i) => (
            <tr key={i}>
              <td>{i + 1}. {s.goal}</td>
              <td class="num">{s.visitors.toLocaleString("en-US")}</td>
              <td class="num">{s.conversionRate}%</td>
              <td class="num">{s.dropoff.toLocaleString("en-US")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

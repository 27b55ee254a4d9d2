/**
 * A site's goals, funnels and Stats API keys, on the owner's node (the
 * owner's token or session; sites this node registered):
 *
 * - `GET /api/v1/sites/:domain/goals` → `{ goals }`; `POST` a goal
 *   `{ kind: "pageview"|"event", match, name?, currency?, customProps? }` → 201;
 *   `DELETE /api/v1/sites/:domain/goals/:id` (or `POST …/:id/delete`);
 * - `GET /api/v1/sites/:domain/funnels` → `{ funnels }`; `POST { name, steps: [goal ids] }` → 201;
 *   `DELETE …/funnels/:id` (or `POST …/:id/delete`);
 *   `GET …/funnels/:id?from=YYYY-MM-DD&to=YYYY-MM-DD` → visitors per step;
 * - `GET /api/v1/sites/:domain/api-keys` → `{ keys }` (never the keys themselves);
 *   `POST { name }` → 201 `{ …, key }`, the key shown this once (stored hashed);
 *   `DELETE …/api-keys/:id` (or `POST …/:id/revoke`).
 *
 * The site settings page (`/sites/:domain/settings`) posts the same routes as
 * forms: the answer is a `303` back to it (`?saved=…` or `?error=…`), except
 * a new key, which is shown on a page of its own (never in a URL).
 * Errors: 422 naming the bad field, 404 for a site or item that is not there.
 */
import { type Context, Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { ApiKeyBody, FunnelBody, GoalBody } from "../../../protocol/api/stats.ts";
import { type ErrorPolicy, HttpError } from "../../http_error.ts";
import { readBytes } from "../../read_json.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";

const errors: ErrorPolicy = { badInput: 422 };
const MAX_FORM_BYTES = 16 * 1024;

function isFormPost(request: Request): boolean {
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  return type === "application/x-www-form-urlencoded";
}

async function readForm(c: Context): Promise<URLSearchParams> {
  const text = new TextDecoder().decode(await readBytes(c.req.raw, MAX_FORM_BYTES, "The form"));
  return new URLSearchParams(text);
}

/** `key=value` lines of the goal form's custom props field. */
function parsePropsLines(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) {
      throw new TypeError(
        `Field "customProps": write one key=value per line, got ${JSON.stringify(line.slice(0, 40))}`,
      );
    }
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return Object.keys(out).length > 0 ? out : undefined;
} // deno-fmt-ignore

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function createGoalRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  const domainOf = (c: Context) => c.req.param("domain") ?? "";
  const settings = (c: Context) => `/sites/${encodeURIComponent(domainOf(c))}/settings`;
  /** A form post's answer: back to the settings page, saying what happened. */
  const back = (c: Context, params: Record<string, string>) => {
    c.header("Cache-Control", "no-store");
    return c.redirect(`${settings(c)}?${new URLSearchParams(params)}`, 303);
  };
  /** Runs a form action; a refusal goes back to the page as `?error=` rather than a JSON error. */
  const formAction = async (c: Context, action: () => Promise<Record<string, string>>) => {
    try {
      return back(c, await action());
    } catch (err) {
      const name = (err as Error).name;
      const refused = err instanceof HttpError || name === "TypeError" || name === "RangeError" ||
        name === "NotFoundError";
      if (!refused) throw err;
      return back(c, { error: (err as Error).message.slice(0, 300) });
    }
  };

  defineRoute(api, "/sites/:domain/goals", {
    GET: async (c) => c.json({ goals: await facade.listGoals(domainOf(c)) }),
    POST: async (c) => {
      if (isFormPost(c.req.raw)) {
        const form = await readForm(c);
        return formAction(c, async () => {
          const input = validate(GoalBody, {
            kind: form.get("kind") ?? "",
            match: form.get("match") ?? "",
            name: form.get("name") || undefined,
            currency: form.get("currency") || undefined,
            customProps: parsePropsLines(form.get("customProps") ?? ""),
          }, { status: 422 });
          const goal = await facade.addGoal(domainOf(c), input);
          return { saved: `Goal "${goal.name}" added` };
        });
      }
      const input = await readBody(c, GoalBody, { maxBytes: MAX_FORM_BYTES });
      return c.json(await facade.addGoal(domainOf(c), input), 201);
    },
  }, { errors });
  const deleteGoal = async (c: Context) => {
    await facade.deleteGoal(domainOf(c), c.req.param("id") ?? "");
    return { deleted: true };
  };
  defineRoute(api, "/sites/:domain/goals/:id", { DELETE: async (c) => c.json(await deleteGoal(c)) }, {
    errors,
  });
  defineRoute(api, "/sites/:domain/goals/:id/delete", {
    POST: async (c) => {
      if (!isFormPost(c.req.raw)) return c.json(await deleteGoal(c));
      await c.req.raw.body?.cancel();
      return formAction(c, async () => (await deleteGoal(c), { saved: "Goal deleted" }));
    },
  }, { errors });

  defineRoute(api, "/sites/:domain/funnels", {
    GET: async (c) => c.json({ funnels: await facade.listFunnels(domainOf(c)) }),
    POST: async (c) => {
      if (isFormPost(c.req.raw)) {
        const form = await readForm(c);
        return formAction(c, async () => {
          const input = validate(FunnelBody, {
            name: form.get("name") ?? "",
            steps: form.getAll("steps").filter((s) => s !== ""),
          }, { status: 422 });
          const funnel = await facade.addFunnel(domainOf(c), input);
          return { saved: `Funnel "${funnel.name}" added` };
        });
      }
      const input = await readBody(c, FunnelBody, { maxBytes: MAX_FORM_BYTES });
      return c.json(await facade.addFunnel(domainOf(c), input), 201);
    },
  }, { errors });
  const deleteFunnel = async (c: Context) => {
    await facade.deleteFunnel(domainOf(c), c.req.param("id") ?? "");
    return { deleted: true };
  };
  defineRoute(api, "/sites/:domain/funnels/:id", {
    GET: async (c) => {
      const from = c.req.query("from") ?? "";
      const to = c.req.query("to") ?? "";
      c.header("Cache-Control", "no-store");
      return c.json(
        await facade.getFunnelResult(domainOf(c), c.req.param("id") ?? "", { from, to }, {
          signal: c.req.raw.signal,
        }),
      );
    },
    DELETE: async (c) => c.json(await deleteFunnel(c)),
  }, { errors });
  defineRoute(api, "/sites/:domain/funnels/:id/delete", {
    POST: async (c) => {
      if (!isFormPost(c.req.raw)) return c.json(await deleteFunnel(c));
      await c.req.raw.body?.cancel();
      return formAction(c, async () => (await deleteFunnel(c), { saved: "Funnel deleted" }));
    },
  }, { errors });

  defineRoute(api, "/sites/:domain/api-keys", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json({ keys: await facade.listApiKeys(domainOf(c)) });
    },
    POST: async (c) => {
      c.header("Cache-Control", "no-store");
      if (isFormPost(c.req.raw)) {
        const form = await readForm(c);
        let created;
        try {
          const { name } = validate(ApiKeyBody, { name: form.get("name") ?? "" }, { status: 422 });
          created = await facade.createApiKey(domainOf(c), name);
        } catch (err) {
          const name = (err as Error).name;
          if (name !== "TypeError" && name !== "NotFoundError" && !(err instanceof HttpError)) throw err;
          return back(c, { error: (err as Error).message.slice(0, 300) });
        }
        // The key is shown on this answer only: never in a URL, never stored.
        return c.html(
          `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>New API key</title>` +
            `<link rel="stylesheet" href="/static/style.css"></head><body><main class="card">` +
            `<h1>API key "${escapeHtml(created.name)}"</h1>` +
            `<p>Copy it now: it is shown this once. Send it as <code>Authorization: Bearer …</code> to ` +
            `<code>/api/v2/query</code> and <code>/api/v1/stats/*</code>, for ${
              escapeHtml(domainOf(c))
            } only.</p>` +
            `<pre data-testid="new-api-key">${escapeHtml(created.key)}</pre>` +
            `<p><a href="${escapeHtml(settings(c))}">Back to the settings</a></p></main></body></html>`,
          201,
          { "Referrer-Policy": "no-referrer" },
        );
      }
      const { name } = await readBody(c, ApiKeyBody, { maxBytes: 4096 });
      return c.json(await facade.createApiKey(domainOf(c), name), 201);
    },
  }, { errors });
  const revoke = async (c: Context) => {
    await facade.revokeApiKey(domainOf(c), c.req.param("id") ?? "");
    return { revoked: true };
  };
  defineRoute(api, "/sites/:domain/api-keys/:id", { DELETE: async (c) => c.json(await revoke(c)) }, {
    errors,
  });
  defineRoute(api, "/sites/:domain/api-keys/:id/revoke", {
    POST: async (c) => {
      if (!isFormPost(c.req.raw)) return c.json(await revoke(c));
      await c.req.raw.body?.cancel();
      return formAction(c, async () => (await revoke(c), { saved: "API key revoked" }));
    },
  }, { errors });
  return api;
}

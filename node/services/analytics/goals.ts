/**
 * A site's goals, funnels and Stats API keys, on the owner's node (tables of
 * their own, migration component `analytics_goals`):
 *
 * - goals (Plausible's): a pageview goal matches a page path (`*` any
 *   characters but `/`, `**` any characters), an event goal a custom event
 *   name; `name` is what `event:goal` answers; an event goal with a
 *   `currency` is a revenue goal; optional custom props narrow it;
 * - funnels: 2–8 distinct goals completed in order within one visit;
 * - site API keys for `/api/v2/query` and `/api/v1/stats/*`: scoped to one
 *   site, stored as SHA-256 only, the key itself shown once at creation.
 *
 * ```ts
 * const goals = createGoalStore(db);
 * const signup = goals.addGoal("example.com", { kind: "event", match: "Signup" });
 * const { key } = goals.createApiKey("example.com", "dashboard script");
 * goals.siteOfApiKey(key); // "example.com"
 * ```
 */
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { type Database, migrate, transaction } from "../db/mod.ts";
import { NotFoundError } from "../../errors.ts";
import type { Funnel, Goal } from "./query_ast.ts";

export const MAX_GOALS = 500;
export const MAX_FUNNELS = 100;
export const MAX_API_KEYS = 50;
export const FUNNEL_STEPS = { min: 2, max: 8 } as const;
const MAX_NAME = 120;
const MAX_PATH = 2048;
const MAX_GOAL_PROPS = 10;
/** Prefix of every site API key (so a leaked one is recognisable). */
export const API_KEY_PREFIX = "kss_";

const MIGRATIONS = [
  `CREATE TABLE analytics_goals (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pageview', 'event')),
    match TEXT NOT NULL,
    name TEXT NOT NULL,
    currency TEXT,
    custom_props TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (site, name)
  );
  CREATE TABLE analytics_funnels (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    name TEXT NOT NULL,
    steps TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (site, name)
  );
  CREATE TABLE analytics_api_keys (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    name TEXT NOT NULL,
    hint TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
  );
  CREATE INDEX analytics_api_keys_by_site ON analytics_api_keys (site);`,
];

/** What `addGoal` takes. */
export interface GoalInput {
  kind: "pageview" | "event";
  /** A page path starting with `/` (pageview), or an event name. */
  match: string;
  /** @default `Visit <path>` for pageview goals, the event name for event goals */
  name?: string;
  /** ISO 4217, event goals only. */
  currency?: string;
  customProps?: Record<string, string>;
}

/** A site API key as listed (never the key). */
export interface ApiKeyView {
  id: string;
  name: string;
  /** The key's last 4 characters, to tell keys apart. */
  hint: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface GoalStore {
  listGoals(site: string): Goal[];
  /** Throws `TypeError` (a bad field, a duplicate name, too many goals). */
  addGoal(site: string, input: GoalInput): Goal;
  /** Throws `NotFoundError`, or `TypeError` when a funnel uses the goal. */
  deleteGoal(site: string, id: string): void;
  listFunnels(site: string): Funnel[];
  /** Steps are goal ids of the site. Throws `TypeError`. */
  addFunnel(site: string, input: { name: string; steps: string[] }): Funnel;
  deleteFunnel(site: string, id: string): void;
  listApiKeys(site: string): ApiKeyView[];
  /** The new key is in the answer only. */
  createApiKey(site: string, name: string): ApiKeyView & { key: string };
  revokeApiKey(site: string, id: string): void;
  /** The site a key is scoped to (and marks it used), or null for an unknown key. */
  siteOfApiKey(key: string): string | null;
}

const CURRENCIES = new Set(Intl.supportedValuesOf("currency"));

/** The regular expression (source) of a pageview goal's path: `*` is `[^/]*`, `**` is `.*`. */
export function pagePatternSource(match: string): string {
  let out = "^";
  for (let i = 0; i < match.length; i++) {
    const ch = match[i];
    if (ch === "*") {
      if (match[i + 1] === "*") {
        out += ".*";
        i++;
      } else out += "[^/]*";
    } else out += ch.replace(/[.+?^${}()|[\]\\/]/g, "\\$&");
  }
  return out + "$";
}

/** Compiled page patterns (a funnel tests every pageview of a range against a few). */
const PATTERNS = new Map<string, RegExp>();
function pagePattern(match: string): RegExp {
  let re = PATTERNS.get(match);
  if (!re) {
    if (PATTERNS.size >= 1000) PATTERNS.clear();
    PATTERNS.set(match, re = new RegExp(pagePatternSource(match)));
  }
  return re;
}

/** Whether an event (its name, path and props) completes a goal. */
export function matchesGoal(
  goal: Goal,
  event: { name: string; pathname: string; props?: Record<string, string> | null },
): boolean {
  if (goal.kind === "pageview") {
    if (event.name !== "pageview" || !pagePattern(goal.match).test(event.pathname)) {
      return false;
    }
  } else if (event.name !== goal.match) return false;
  for (const [k, v] of Object.entries(goal.customProps ?? {})) {
    if (event.props?.[k] !== v) return false;
  }
  return true;
}

const newId = () => randomBytes(9).toString("base64url");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function text(value: unknown, field: string, max: number): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`Field "${field}" must be a non-empty string`);
  }
  const s = value.trim();
  if (s.length > max) throw new TypeError(`Field "${field}" is longer than ${max} characters`);
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) throw new TypeError(`Field "${field}" holds control characters`);
  return s;
}

export function createGoalStore(db: Database, options: { now?: () => number } = {}): GoalStore {
  migrate(db, "analytics_goals", MIGRATIONS);
  const now = options.now ?? Date.now;

  const goalsOf = (site: string): Goal[] =>
    (db.prepare(
      "SELECT id, kind, match, name, currency, custom_props FROM analytics_goals WHERE site = ? ORDER BY rowid",
    ).all(site) as {
      id: string;
      kind: "pageview" | "event";
      match: string;
      name: string;
      currency: string | null;
      custom_props: string | null;
    }[])
      .map((r) => ({
        id: r.id,
        kind: r.kind,
        match: r.match,
        name: r.name,
        ...(r.currency ? { currency: r.currency } : {}),
        ...(r.custom_props ? { customProps: JSON.parse(r.custom_props) as Record<string, string> } : {}),
      })); // deno-fmt-ignore

  const funnelsOf = (site: string): Funnel[] =>
    (db.prepare("SELECT id, name, steps FROM analytics_funnels WHERE site = ? ORDER BY rowid").all(site) as {
      id: string;
      name: string;
      steps: string;
    }[]).map((r) => ({ id: r.id, name: r.name, steps: JSON.parse(r.steps) as string[] }));

  return {
    listGoals: goalsOf,

    addGoal(site, input) {
      if (typeof input !== "object" || input === null) throw new TypeError("Expected a goal");
      if (input.kind !== "pageview" && input.kind !== "event") {
        throw new TypeError('Field "kind" must be "pageview" or "event"');
      }
      let match: string;
      if (input.kind === "pageview") {
        match = text(input.match, "match", MAX_PATH);
        if (!match.startsWith("/")) {
          throw new TypeError('Field "match" must be a page path starting with "/"');
        }
      } else {
        match = text(input.match, "match", MAX_NAME);
        if (match === "pageview" || match === "engagement") {
          throw new TypeError(`Field "match": "${match}" is not a custom event; use a pageview goal`);
        }
      }
      const name = input.name === undefined || input.name === ""
        ? (input.kind === "pageview" ? `Visit ${match}` : match)
        : text(input.name, "name", MAX_NAME);
      let currency: string | null = null;
      if (input.currency !== undefined && input.currency !== "") {
        if (input.kind !== "event") {
          throw new TypeError('Field "currency": only custom event goals carry revenue');
        }
        if (typeof input.currency !== "string" || !CURRENCIES.has(input.currency.toUpperCase())) {
          throw new TypeError('Field "currency" must be an ISO 4217 code such as "EUR"');
        }
        currency = input.currency.toUpperCase();
      }
      let props: string | null = null;
      if (input.customProps !== undefined) {
        const entries = Object.entries(input.customProps ?? {});
        if (typeof input.customProps !== "object" || entries.length > MAX_GOAL_PROPS) {
          throw new TypeError(
            `Field "customProps" must be an object of at most ${MAX_GOAL_PROPS} string pairs`,
          );
        }
        for (const [k, v] of entries) {
          text(k, "customProps key", 300);
          text(v, `customProps.${k.slice(0, 40)}`, 2000);
        }
        if (entries.length > 0) props = JSON.stringify(Object.fromEntries(entries));
      }
      return transaction(db, () => {
        const { n } = db.prepare("SELECT COUNT(*) AS n FROM analytics_goals WHERE site = ?").get(site) as {
          n: number;
        };
        if (n >= MAX_GOALS) throw new TypeError(`A site has at most ${MAX_GOALS} goals`);
        if (db.prepare("SELECT 1 FROM analytics_goals WHERE site = ? AND name = ?").get(site, name)) {
          throw new TypeError(`The site already has a goal named ${JSON.stringify(name)}`);
        }
        const id = newId();
        db.prepare(
          "INSERT INTO analytics_goals (id, site, kind, match, name, currency, custom_props, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ).run(id, site, input.kind, match, name, currency, props, now());
        return goalsOf(site).find((g) => g.id === id)!;
      });
    },

    deleteGoal(site, id) {
      transaction(db, () => {
        const using = funnelsOf(site).find((f) => f.steps.includes(id));
        if (using) {
          throw new TypeError(
            `The goal is a step of the funnel ${JSON.stringify(using.name)}; delete the funnel first`,
          );
        }
        const { changes } = db.prepare("DELETE FROM analytics_goals WHERE site = ? AND id = ?").run(site, id);
        if (Number(changes) === 0) {
          throw new NotFoundError(`No goal ${JSON.stringify(String(id).slice(0, 40))}`);
        }
      });
    },

    listFunnels: funnelsOf,

    addFunnel(site, input) {
      const name = text(input?.name, "name", MAX_NAME);
      const steps = input?.steps;
      if (!Array.isArray(steps) || steps.length < FUNNEL_STEPS.min || steps.length > FUNNEL_STEPS.max) {
        throw new TypeError(`Field "steps" must list ${FUNNEL_STEPS.min} to ${FUNNEL_STEPS.max} goals`);
      }
      if (new Set(steps).size !== steps.length) throw new TypeError('Field "steps" lists a goal twice');
      return transaction(db, () => {
        const ids = new Set(goalsOf(site).map((g) => g.id));
        steps.forEach((s, i) => {
          if (typeof s !== "string" || !ids.has(s)) {
            throw new TypeError(`Field "steps[${i}]" is not a goal of the site`);
          }
        });
        const { n } = db.prepare("SELECT COUNT(*) AS n FROM analytics_funnels WHERE site = ?").get(site) as {
          n: number;
        };
        if (n >= MAX_FUNNELS) throw new TypeError(`A site has at most ${MAX_FUNNELS} funnels`);
        if (db.prepare("SELECT 1 FROM analytics_funnels WHERE site = ? AND name = ?").get(site, name)) {
          throw new TypeError(`The site already has a funnel named ${JSON.stringify(name)}`);
        }
        const id = newId();
        db.prepare("INSERT INTO analytics_funnels (id, site, name, steps, created_at) VALUES (?, ?, ?, ?, ?)")
          .run(id, site, name, JSON.stringify(steps), now());
        return { id, name, steps: [...steps] };
      });
    },

    deleteFunnel(site, id) {
      const { changes } = db.prepare("DELETE FROM analytics_funnels WHERE site = ? AND id = ?").run(site, id);
      if (Number(changes) === 0) {
        throw new NotFoundError(`No funnel ${JSON.stringify(String(id).slice(0, 40))}`);
      }
    },

    listApiKeys(site) {
      return (db.prepare(
        "SELECT id, name, hint, created_at, last_used_at FROM analytics_api_keys WHERE site = ? ORDER BY rowid",
      ).all(site) as {
        id: string;
        name: string;
        hint: string;
        created_at: number;
        last_used_at: number | null;
      }[])
        .map((r) => ({
          id: r.id,
          name: r.name,
          hint: r.hint,
          createdAt: r.created_at,
          lastUsedAt: r.last_used_at,
        }));
    },

    createApiKey(site, keyName) {
      const name = text(keyName, "name", MAX_NAME);
      const key = API_KEY_PREFIX + Buffer.from(randomBytes(32)).toString("base64url");
      const id = newId();
      const createdAt = now();
      transaction(db, () => {
        const { n } = db.prepare("SELECT COUNT(*) AS n FROM analytics_api_keys WHERE site = ?").get(site) as {
          n: number;
        };
        if (n >= MAX_API_KEYS) {
          throw new TypeError(`A site has at most ${MAX_API_KEYS} API keys; revoke one first`);
        }
        db.prepare(
          "INSERT INTO analytics_api_keys (id, site, name, hint, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        ).run(id, site, name, key.slice(-4), sha256(key), createdAt);
      });
      return { id, name, hint: key.slice(-4), createdAt, lastUsedAt: null, key };
    },

    revokeApiKey(site, id) {
      const { changes } = db.prepare("DELETE FROM analytics_api_keys WHERE site = ? AND id = ?").run(
        site,
        id,
      );
      if (Number(changes) === 0) {
        throw new NotFoundError(`No API key ${JSON.stringify(String(id).slice(0, 40))}`);
      }
    },

    siteOfApiKey(key) {
      if (typeof key !== "string" || !key.startsWith(API_KEY_PREFIX) || key.length > 100) return null;
      // Looked up by its hash: the comparison never touches the key itself.
      const hash = sha256(key);
      const row = db.prepare("SELECT id, site FROM analytics_api_keys WHERE key_hash = ?").get(hash) as
        | { id: string; site: string }
        | undefined;
      if (!row) return null;
      db.prepare("UPDATE analytics_api_keys SET last_used_at = ? WHERE id = ?").run(now(), row.id);
      return row.site;
    },
  };
}

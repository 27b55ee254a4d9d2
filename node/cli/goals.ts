/**
 * `kosmos goals|funnels|site-keys DOMAIN …` — a site's Stats API setup over
 * the node's JSON routes (`/api/v1/sites/DOMAIN/goals|funnels|api-keys`), as
 * the site's settings page does it: conversion goals (page or custom event,
 * with a revenue currency), funnels of goals and their visitors per step, and
 * the site's API keys for `/api/v2/query` (a new key is printed this once).
 */
import type { ApiKeyView, FunnelResultView, FunnelView, GoalView } from "../../protocol/api/stats.ts";
import {
  callApi,
  type Command,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  output,
  runCommand,
  UsageError,
} from "./command.ts";

export const GOALS_USAGE = `Usage: kosmos goals DOMAIN [--json]
       kosmos goals DOMAIN add page PATH [--name TEXT]
       kosmos goals DOMAIN add event NAME [--name TEXT] [--currency CODE] [--props KEY=VALUE,…]
       kosmos goals DOMAIN remove ID

Without a subcommand, lists the site's goals. A page goal matches a path
(/blog/* one level, /blog/** any depth) and is named "Visit PATH" unless
--name says otherwise; an event goal matches a custom event name, narrowed by
--props, and with --currency (ISO 4217, e.g. EUR) counts its revenue. Queries
filter and break down by the names (event:goal). A goal in a funnel is removed
after the funnel.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const FUNNELS_USAGE = `Usage: kosmos funnels DOMAIN [--json]
       kosmos funnels DOMAIN add NAME GOAL_ID GOAL_ID [GOAL_ID…]
       kosmos funnels DOMAIN show ID --from YYYY-MM-DD --to YYYY-MM-DD
       kosmos funnels DOMAIN remove ID

Without a subcommand, lists the site's funnels. A funnel is 2 to 8 goals (ids
from kosmos goals DOMAIN) completed in order within one visit; show counts the
visitors who reached each step between two UTC days (both included).

Flags:
${COMMON_FLAGS_USAGE}
`;

export const SITE_KEYS_USAGE = `Usage: kosmos site-keys DOMAIN [--json]
       kosmos site-keys DOMAIN create NAME
       kosmos site-keys DOMAIN revoke ID

Without a subcommand, lists the site's Stats API keys (their last 4 characters
and last use, never the keys). create prints a new key this once: send it as
"Authorization: Bearer KEY" to /api/v2/query and /api/v1/stats/* for DOMAIN
only. revoke makes a key fail from now on.

Flags:
${COMMON_FLAGS_USAGE}
`;

const sitePath = (domain: string) => `/api/v1/sites/${encodeURIComponent(domain)}`;

/** The subcommand and its operands after DOMAIN; a wrong count or name is a `UsageError`. */
function subcommand(
  cmd: Command,
  operands: Record<string, [number, number]>,
): { domain: string; sub: string | undefined; rest: string[] } {
  const [domain, sub, ...rest] = cmd.positionals;
  if (sub === undefined) return { domain, sub, rest };
  const range = operands[sub];
  if (!range) throw new UsageError(`${cmd.name}: unknown subcommand "${sub.slice(0, 40)}" (try --help)`);
  if (rest.length < range[0] || rest.length > range[1]) {
    throw new UsageError(`${cmd.name} ${sub}: wrong number of arguments (try --help)`);
  }
  return { domain, sub, rest };
}

/** Flags the subcommand does not take are refused rather than ignored. */
function onlyFlags(cmd: Command, sub: string | undefined, allowed: string[]): void {
  const stray = [...cmd.flags.keys()].find((f) => f !== "url" && f !== "data-dir" && !allowed.includes(f));
  if (stray) throw new UsageError(`${cmd.name}${sub ? ` ${sub}` : ""}: takes no --${stray}`);
}

function describeGoal(g: GoalView): string {
  const props = Object.entries(g.customProps ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
  return `${g.id}  ${g.name}  (${g.kind} ${g.match}${g.currency ? `, revenue in ${g.currency}` : ""}${
    props ? `, props ${props}` : ""
  })`;
}

/** `--props a=1,b=2` as an object. */
function readProps(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new UsageError(
        `goals add: --props takes KEY=VALUE pairs, got ${JSON.stringify(pair.slice(0, 40))}`,
      );
    }
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** Runs `kosmos goals`. */
export function runGoals(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "goals",
    usage: GOALS_USAGE,
    operands: [1, 4] as const,
    flags: ["name", "currency", "props"],
  };
  return runCommand(spec, args, io, async (cmd) => {
    const { domain, sub, rest } = subcommand(cmd, { add: [2, 2], remove: [1, 1] });
    const path = `${sitePath(domain)}/goals`;
    if (sub === undefined) {
      onlyFlags(cmd, sub, []);
      const { goals } = await callApi<{ goals: GoalView[] }>(cmd, path, {
        what: `list the goals of ${domain}`,
      });
      output(
        cmd,
        { goals },
        () => goals.length === 0 ? [`No goals for ${domain}.`] : goals.map(describeGoal),
      );
    } else if (sub === "add") {
      const [kind, match] = rest;
      if (kind !== "page" && kind !== "event") {
        throw new UsageError(`goals add: expected page or event, got "${kind.slice(0, 20)}"`);
      }
      onlyFlags(cmd, sub, kind === "page" ? ["name"] : ["name", "currency", "props"]);
      const body: Record<string, unknown> = { kind: kind === "page" ? "pageview" : "event", match };
      const name = cmd.flags.get("name");
      const currency = cmd.flags.get("currency");
      const props = cmd.flags.get("props");
      if (name !== undefined) body.name = name;
      if (currency !== undefined) body.currency = currency;
      if (props !== undefined) body.customProps = readProps(props);
      const goal = await callApi<GoalView>(cmd, path, { body, what: `add a goal to ${domain}` });
      output(cmd, goal, () => [`Added goal ${describeGoal(goal)}`]);
    } else {
      onlyFlags(cmd, sub, []);
      const id = rest[0];
      const result = await callApi<{ deleted: boolean }>(cmd, `${path}/${encodeURIComponent(id)}`, {
        method: "DELETE",
        what: `remove goal ${id} of ${domain}`,
      });
      output(cmd, { id, ...result }, () => [`Removed goal ${id} of ${domain}.`]);
    }
  });
}

/** Runs `kosmos funnels`. */
export function runFunnels(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "funnels", usage: FUNNELS_USAGE, operands: [1, 11] as const, flags: ["from", "to"] };
  return runCommand(spec, args, io, async (cmd) => {
    const { domain, sub, rest } = subcommand(cmd, { add: [3, 9], show: [1, 1], remove: [1, 1] });
    const path = `${sitePath(domain)}/funnels`;
    if (sub === undefined) {
      onlyFlags(cmd, sub, []);
      const { funnels } = await callApi<{ funnels: FunnelView[] }>(cmd, path, {
        what: `list the funnels of ${domain}`,
      });
      output(
        cmd,
        { funnels },
        () =>
          funnels.length === 0
            ? [`No funnels for ${domain}.`]
            : funnels.map((f) => `${f.id}  ${f.name}  (${f.steps.join(" → ")})`),
      );
    } else if (sub === "add") {
      onlyFlags(cmd, sub, []);
      const [name, ...steps] = rest;
      const funnel = await callApi<FunnelView>(cmd, path, {
        body: { name, steps },
        what: `add a funnel to ${domain}`,
      });
      output(
        cmd,
        funnel,
        () => [`Added funnel ${funnel.id}  ${funnel.name}  (${funnel.steps.length} steps)`],
      );
    } else if (sub === "show") {
      onlyFlags(cmd, sub, ["from", "to"]);
      const from = cmd.flags.get("from");
      const to = cmd.flags.get("to");
      if (from === undefined || to === undefined) throw new UsageError("funnels show: needs --from and --to");
      const result = await callApi<FunnelResultView>(cmd, `${path}/${encodeURIComponent(rest[0])}`, {
        query: { from, to },
        what: `show funnel ${rest[0]} of ${domain}`,
      });
      output(cmd, result, () => [
        `${result.funnel.name}, ${result.from} … ${result.to}:`,
        ...result.steps.map((s, i) =>
          `  ${i + 1}. ${s.goal}  ${s.visitors} visitors  ${s.conversionRate} %  (${s.dropoff} dropped)`
        ),
      ]);
    } else {
      onlyFlags(cmd, sub, []);
      const id = rest[0];
      const result = await callApi<{ deleted: boolean }>(cmd, `${path}/${encodeURIComponent(id)}`, {
        method: "DELETE",
        what: `remove funnel ${id} of ${domain}`,
      });
      output(cmd, { id, ...result }, () => [`Removed funnel ${id} of ${domain}.`]);
    }
  });
}

/** Runs `kosmos site-keys`. */
export function runSiteKeys(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "site-keys", usage: SITE_KEYS_USAGE, operands: [1, 3] as const };
  return runCommand(spec, args, io, async (cmd) => {
    const { domain, sub, rest } = subcommand(cmd, { create: [1, 1], revoke: [1, 1] });
    const path = `${sitePath(domain)}/api-keys`;
    if (sub === undefined) {
      const { keys } = await callApi<{ keys: ApiKeyView[] }>(cmd, path, {
        what: `list the API keys of ${domain}`,
      });
      output(
        cmd,
        { keys },
        () =>
          keys.length === 0
            ? [`No API keys for ${domain}.`]
            : keys.map((k) =>
              `${k.id}  ${k.name}  …${k.hint}  created ${new Date(k.createdAt).toISOString()}${
                k.lastUsedAt ? `, last used ${new Date(k.lastUsedAt).toISOString()}` : ", never used"
              }`
            ),
      );
    } else if (sub === "create") {
      const created = await callApi<ApiKeyView & { key: string }>(cmd, path, {
        body: { name: rest[0] },
        what: `create an API key for ${domain}`,
      });
      output(cmd, created, () => [
        created.key,
        `API key ${created.id} "${created.name}" for ${domain}. Copy it now: it is shown this once.`,
      ]);
    } else {
      const id = rest[0];
      const result = await callApi<{ revoked: boolean }>(cmd, `${path}/${encodeURIComponent(id)}`, {
        method: "DELETE",
        what: `revoke API key ${id} of ${domain}`,
      });
      output(cmd, { id, ...result }, () => [`Revoked API key ${id} of ${domain}.`]);
    }
  });
}

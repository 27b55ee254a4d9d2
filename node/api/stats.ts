/** Plausible's Stats API beyond the dashboard: v2 and v1 queries, site API keys, goals and funnels. */
import type { FunnelResultView, StatsApi } from "../../protocol/api/stats.ts";
import { NotFoundError } from "../errors.ts";
import type { Analytics } from "../services/analytics/mod.ts";
import type { Sites } from "../services/sites/mod.ts";

const DAY = 86_400_000;

function parseDay(field: string, text: unknown): number {
  const match = typeof text === "string" ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(text) : null;
  const ms = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
  if (!match || new Date(ms).toISOString().slice(0, 10) !== text) {
    throw new TypeError(`Field "${field}" must be a date such as "2026-01-31"`);
  }
  return ms;
}

export function createStatsApi(c: { analytics: Analytics; sites: Sites }): StatsApi {
  /** Goals, funnels and keys are kept for the sites this node registered. */
  const own = (domain: string): string => {
    if (typeof domain !== "string" || !c.sites.getOwnSite(domain)) {
      throw new NotFoundError(
        `No site ${JSON.stringify(String(domain).slice(0, 80))} is registered on this node`,
      );
    }
    return domain;
  };
  return {
    queryStatsV2: (body, options) => c.analytics.queryStatsV2(body, options),
    queryStatsV1: (endpoint, params, options) => c.analytics.queryStatsV1(endpoint, params, options),
    countRealtimeVisitors: (site, options) => c.analytics.countRealtimeVisitors(site, options),
    // deno-lint-ignore require-await
    getApiKeySite: async (key) => c.analytics.goals.siteOfApiKey(key),
    // deno-lint-ignore require-await
    listGoals: async (domain) => c.analytics.goals.listGoals(own(domain)),
    // deno-lint-ignore require-await
    addGoal: async (domain, input) => c.analytics.goals.addGoal(own(domain), input),
    // deno-lint-ignore require-await
    deleteGoal: async (domain, id) => c.analytics.goals.deleteGoal(own(domain), id),
    // deno-lint-ignore require-await
    listFunnels: async (domain) => c.analytics.goals.listFunnels(own(domain)),
    // deno-lint-ignore require-await
    addFunnel: async (domain, input) => c.analytics.goals.addFunnel(own(domain), input),
    // deno-lint-ignore require-await
    deleteFunnel: async (domain, id) => c.analytics.goals.deleteFunnel(own(domain), id),
    async getFunnelResult(domain, id, range, options = {}): Promise<FunnelResultView> {
      const site = own(domain);
      const from = parseDay("from", range.from);
      const to = parseDay("to", range.to) + DAY;
      if (to <= from) throw new TypeError('Field "to" is before "from"');
      if (to - from > 3660 * DAY) throw new TypeError("A funnel covers at most 10 years");
      const funnel = c.analytics.goals.listFunnels(site).find((f) => f.id === id);
      if (!funnel) throw new NotFoundError(`No funnel ${JSON.stringify(String(id).slice(0, 40))}`);
      return {
        funnel,
        from: range.from,
        to: range.to,
        steps: await c.analytics.computeFunnel(site, id, { from, to }, options),
      };
    },
    // deno-lint-ignore require-await
    listApiKeys: async (domain) => c.analytics.goals.listApiKeys(own(domain)),
    // deno-lint-ignore require-await
    createApiKey: async (domain, name) => c.analytics.goals.createApiKey(own(domain), name),
    // deno-lint-ignore require-await
    revokeApiKey: async (domain, id) => c.analytics.goals.revokeApiKey(own(domain), id),
  };
}

/** Analytics of sites: the Plausible-style query, realtime visitors, and private releases. */
import type { AnalyticsApi, ReleaseView } from "../../protocol/api/analytics.ts";
import type { Analytics, ReleaseDimension } from "../services/analytics/mod.ts";
import type { ReleaseRecord, Releases } from "../services/releases/mod.ts";

export function createAnalyticsApi(c: { analytics: Analytics; releases: Releases }): AnalyticsApi {
  return {
    queryStats(query, options) {
      return c.analytics.queryStats(query, options);
    },

    // deno-lint-ignore require-await
    async getRealtimeVisitors(domain) {
      return c.analytics.getRealtimeVisitors(domain);
    },

    // deno-lint-ignore require-await
    async listAnalyticsSites() {
      return c.analytics.listSites();
    },

    async createRelease(domain, input, options = {}) {
      const { release, id, manifestCid, budget } = await c.releases.createRelease(domain, {
        ...input,
        dimension: input.dimension as ReleaseDimension | null | undefined,
        signal: options.signal,
      });
      return { id, manifestCid, release: toReleaseView(release), budget };
    },

    // deno-lint-ignore require-await
    async listReleases(domain) {
      const { budget, releases } = c.releases.listReleases(domain);
      return { budget, releases: releases.map(toReleaseView), policy: c.releases.getPolicy() };
    },
  };
}

/** A release as the API shows it: everything but the site, which the route already names. */
function toReleaseView({ site: _site, ...view }: ReleaseRecord): ReleaseView {
  return view;
}

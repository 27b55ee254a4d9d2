/** Analytics imports of this node's sites: maps the analytics service's imports to the API's views. */
import type { ImportsApi } from "../../protocol/api/imports.ts";
import { NotFoundError } from "../errors.ts";
import type { Analytics, ImportSource } from "../services/analytics/mod.ts";
import type { Sites } from "../services/sites/mod.ts";

export function createImportsApi(c: { analytics: Analytics; sites: Sites }): ImportsApi {
  const own = (domain: string): string => {
    if (typeof domain !== "string" || !c.sites.getOwnSite(domain)) {
      throw new NotFoundError(
        `No site ${JSON.stringify(String(domain).slice(0, 80))} is registered on this node`,
      );
    }
    return domain;
  };
  return {
    // deno-lint-ignore require-await
    async importAnalytics(domain, file) {
      return c.analytics.imports.importFile(own(domain), file);
    },
    // deno-lint-ignore require-await
    async listAnalyticsImports(domain) {
      return c.analytics.imports.listImports(own(domain));
    },
    // deno-lint-ignore require-await
    async removeAnalyticsImports(domain, source) {
      return { removed: c.analytics.imports.removeImports(own(domain), source as ImportSource | undefined) };
    },
  };
}

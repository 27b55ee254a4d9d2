/**
 * The exports part of the web facade (`web/facade.ts`): CSV/NDJSON downloads
 * of purchases and deliveries to connectors, over {@link Connectors}.
 *
 * ```ts
 * const facade = { ...createConnectorsFacade({ connectors }), getNodeInfo };
 * const { stream } = await facade.exportPurchase(id, { format: "csv" });
 * ```
 */
import type { KosmosFacade } from "../../../web/facade.ts";
import { EXPORT_CONTENT_TYPES } from "./export.ts";
import type { Connectors, DeliveryTarget } from "./mod.ts";

export interface ConnectorsFacadeComponents {
  connectors: Connectors;
}

export type ConnectorsFacade = Pick<KosmosFacade, "exportPurchase" | "startDelivery" | "listDeliveries">;

export function createConnectorsFacade({ connectors }: ConnectorsFacadeComponents): ConnectorsFacade {
  return {
    async exportPurchase(id, { format }, options = {}) {
      const { stream, filename } = await connectors.exportPurchase(id, { format, signal: options.signal });
      return { stream, contentType: EXPORT_CONTENT_TYPES[format], filename };
    },
    async startDelivery(purchaseId, params, options = {}) {
      const target: DeliveryTarget = params.connector === "directory"
        ? { connector: "directory", dir: params.dir }
        : { connector: "webhook", url: params.url };
      return await connectors.startDelivery(purchaseId, target, {
        format: params.format,
        signal: options.signal,
      });
    },
    // deno-lint-ignore require-await
    async listDeliveries() {
      return connectors.listDeliveries();
    },
  };
}

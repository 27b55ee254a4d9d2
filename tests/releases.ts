/**
 * A node that sells a site's statistics, and its traffic, for the releases tests.
 *
 * ```ts
 * await withNode({ budget: 3 }, async (node, app) => {
 *   node.components.analytics.recordEvents(SITE, traffic({ perDay: 200 }));
 *   const response = await post(app, valid);
 * });
 * ```
 */
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import { createApp } from "../web/app.ts";
import { createNode, type KosmosNode } from "../node/node.ts";
import type { NodeConfig } from "../node/config.ts";
import type { AnalyticsEvent } from "../protocol/analytics.ts";
import { pageview } from "../node/services/analytics/fixtures_test.ts";
import { decryptDataset, getManifest } from "../node/services/blocks/mod.ts";
import { ownerApp, type RequestableApp, testLogger } from "./helpers.ts";
import { registerVerifiedSite, startProofServer } from "./site_proofs.ts";

const quietLog = { error: () => {}, debug: () => {} };
export const SITE = "shop.example";
export const day = 86_400_000;

/** A started node that owns and has verified {@link SITE}, its owner's app, then cleanup. */
export async function withNode(
  options: {
    budget?: number;
    maxEpsilon?: number;
    config?: Partial<NodeConfig>;
    /** Writes into the data directory before the node first opens it. */
    prepare?: (dataDir: string) => void;
  },
  fn: (node: KosmosNode, app: RequestableApp) => Promise<void>,
) {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-releases-" });
  options.prepare?.(dataDir);
  await using proofs = await startProofServer();
  const node = await createNode({
    dataDir,
    port: 0,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    siteProofOrigins: proofs.origins,
    ...options.config,
  }, {
    logger: testLogger(),
    services: { releases: { budget: options.budget, maxEpsilon: options.maxEpsilon } },
  });
  try {
    await node.start();
    await registerVerifiedSite(node, proofs, SITE);
    await fn(node, ownerApp(createApp(node.facade, { log: quietLog, auth: node.auth }), node));
  } finally {
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** `perDay` visitor ids a day from 2024-03-10 on (3 days), each with one visit of two pageviews on one of 8 pages. */
export function traffic({ perDay = 40, days = 3 } = {}): AnalyticsEvent[] {
  const events: AnalyticsEvent[] = [];
  const start = Date.parse("2024-03-10T00:00:00Z");
  for (let d = 0; d < days; d++) {
    for (let v = 0; v < perDay; v++) {
      const ts = start + d * day + v * 10_000;
      const visitorId = `secret-visitor-${d}-${v}`;
      for (const [i, pathname] of [`/page-${v % 8}`, "/checkout"].entries()) {
        events.push(pageview(ts + i * 1000, visitorId, pathname, { hostname: SITE }));
      }
    }
  }
  return events;
}

/** `POST /api/v1/sites/:domain/releases` as the owner. */
export function post(app: RequestableApp, body: unknown, domain = SITE) {
  return app.request(`/api/v1/sites/${domain}/releases`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** The plaintext of a dataset the node published. */
export async function readDataset(node: KosmosNode, manifestCid: string): Promise<string> {
  const { blocks, datasets } = node.components;
  const manifest = await getManifest(blocks, CID.parse(manifestCid));
  const dek = datasets.getDatasetKey(manifestCid);
  assert.ok(dek, "the node keeps the dataset key");
  return await new Response(decryptDataset(blocks, manifest, { dek })).text();
}

/** A release of the 3 days of {@link traffic} at ε = 1. */
export const valid = {
  from: "2024-03-10",
  to: "2024-03-12",
  epsilon: 1,
  k: 10,
  title: "Shop visits, March",
  price: "2.5",
  licence: "CC-BY-4.0",
};

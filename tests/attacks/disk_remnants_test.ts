/**
 * The attacker has a copy of a node's data dir (a stolen disk, a backup, a
 * curious host) and wants what the node deleted: a past day's visitor salt
 * (with it, a stored visitor id gives up its IP address to a brute force over
 * addresses) or raw events past their retention (visitor ids, paths, props).
 * A real node with an injected clock takes events over HTTP and directly;
 * every file under its data dir is scanned for the exact bytes. A release
 * of deleted days is refused rather than sold as zeros.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { startNetwork } from "../nodes.ts";
import { registerVerifiedSite, startProofServer } from "../site_proofs.ts";
import { ownerFetch, waitFor } from "../helpers.ts";
import type { KosmosNode } from "../../node/node.ts";
import type { AnalyticsEvent } from "../../protocol/analytics.ts";

const day = 86_400_000;
const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";

/** The paths (relative to `dir`) of the files whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: Uint8Array): Promise<string[]> {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const wanted = hex(needle);
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      found.push(...(await filesContaining(path, needle)).map((f) => join(entry.name, f)));
    } else if (entry.isFile && hex(await Deno.readFile(path)).includes(wanted)) found.push(entry.name);
  }
  return found;
}

const text = (s: string) => new TextEncoder().encode(s);

function readSalt(dataDir: string, dayNumber: number): Uint8Array | undefined {
  const db = new DatabaseSync(join(dataDir, "salts.db"), { readOnly: true });
  try {
    return (db.prepare("SELECT salt FROM salts WHERE day = ?").get(dayNumber) as
      | { salt: Uint8Array }
      | undefined)
      ?.salt;
  } finally {
    db.close();
  }
}

async function postPageview(node: KosmosNode, domain: string, path: string): Promise<void> {
  const response = await fetch(`${node.url}/api/event`, {
    method: "POST",
    body: JSON.stringify({ n: "pageview", u: `https://${domain}${path}`, d: domain, r: null }),
    headers: { "Content-Type": "text/plain", "User-Agent": firefox },
  });
  assert.equal(response.status, 202, await response.text());
}

function event(
  ts: number,
  visitorId: string,
  pathname: string,
  props: Record<string, string>,
): AnalyticsEvent {
  return {
    ts,
    name: "pageview",
    pathname,
    hostname: "shop.example",
    referrer: null,
    referrerSource: null,
    utm: {},
    device: "desktop",
    browser: "Firefox",
    os: "Linux",
    visitorId,
    props,
  };
}

Deno.test("a copy of the data dir holds no past day's salt, no salt in kosmos.db, and no raw event past its retention", async () => {
  let clock = Math.floor(Date.now() / day) * day + 10 * 3_600_000;
  const now = () => clock;
  await using proofs = await startProofServer();
  await using net = await startNetwork(1, { siteProofOrigins: proofs.origins, analyticsRetentionDays: 30 }, {
    services: { ingest: { now, flushInterval: 50 }, analytics: { now } },
  });
  const [node] = net.nodes;
  const dataDir = node.config.dataDir;
  const domain = "shop.example";
  await registerVerifiedSite(node, proofs, domain);
  const analytics = node.components.analytics;

  // Day 1: events over HTTP make today's salt.
  const today = Math.floor(clock / day);
  await postPageview(node, domain, "/day-one");
  await waitFor("the event to be stored", () => analytics.listSites().some((s) => s.domain === domain));
  const salt = readSalt(dataDir, today)!;
  assert.equal(salt.byteLength, 32);
  const holders = await filesContaining(dataDir, salt);
  assert.ok(
    holders.length > 0 && holders.every((f) => f.startsWith("salts.db")),
    `today's salt is in ${holders}`,
  );

  // Raw events from 40 days ago (a node that has run for a while), and recent ones.
  const tag = crypto.randomUUID().slice(0, 8);
  const oldVisitor = `oldvisitor${tag}`;
  const oldProp = `oldprop-${tag}`;
  const newVisitor = `newvisitor${tag}`;
  const oldTs = clock - 40 * day;
  analytics.recordEvents(domain, [
    event(oldTs, oldVisitor, `/old-${tag}`, { canary: oldProp }),
    event(oldTs + 60_000, oldVisitor, "/pricing", { canary: oldProp }),
    event(clock - day, newVisitor, "/pricing", { canary: `newprop-${tag}` }),
  ]);
  await waitFor("the DuckDB mirror to take over", () => analytics.engine?.engine === "duckdb");
  const oldDate = new Date(oldTs).toISOString().slice(0, 10);
  const dashboard = () =>
    analytics.queryStats({
      site_id: domain,
      date_range: [oldDate, oldDate],
      metrics: ["visitors", "pageviews"],
      dimensions: ["event:page"],
    });
  const before = await dashboard();
  assert.equal(before.results.length, 2);
  for (const canary of [oldVisitor, oldProp]) {
    assert.notDeepEqual(await filesContaining(dataDir, text(canary)), [], `the scan finds ${canary} before`);
  }

  // Day 2: the first event of the day deletes yesterday's salt; the retention runs.
  clock += day;
  await postPageview(node, domain, "/day-two");
  await waitFor("the day-two event", () => readSalt(dataDir, today + 1) !== undefined);
  const result = await analytics.pruneRawEvents();
  assert.deepEqual([result.visits, result.events, result.walTruncated], [1, 2, true]);
  assert.ok(result.mirrorRows! >= 2, "the mirror rewrote itself");

  assert.deepEqual(await filesContaining(dataDir, salt), [], "yesterday's salt is in no file");
  const newSalt = readSalt(dataDir, today + 1)!;
  const newHolders = await filesContaining(dataDir, newSalt);
  assert.ok(newHolders.length > 0 && newHolders.every((f) => f.startsWith("salts.db")), `${newHolders}`);
  for (const canary of [oldVisitor, oldProp]) {
    assert.deepEqual(
      await filesContaining(dataDir, text(canary)),
      [],
      `${canary} is in no file after the retention`,
    );
  }
  assert.deepEqual(await dashboard(), before, "the dashboard still answers the old day from its rollups");

  // A release of the deleted days is refused, with nothing charged, rather than counting zeros.
  const releases = () => ownerFetch(node, `/api/v1/sites/${domain}/releases`).then((r) => r.json());
  const budget = (await releases()).budget;
  const response = await ownerFetch(node, `/api/v1/sites/${domain}/releases`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      from: oldDate,
      to: oldDate,
      epsilon: 1,
      k: 10,
      title: "Old visits",
      price: "1",
      licence: "CC-BY-4.0",
    }),
  });
  assert.equal(response.status, 400);
  assert.match(
    (await response.json()).error.message,
    new RegExp(`Cannot release statistics from ${oldDate}: this node keeps raw events for 30 days`),
  );
  assert.deepEqual((await releases()).budget, budget);
  assert.ok((await filesContaining(dataDir, text(newVisitor))).includes("kosmos.db"), "recent events stay");
});

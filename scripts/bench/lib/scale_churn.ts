/**
 * Churn for `deno task bench scale`: `events` times, `periodMs` apart, a share
 * of the nodes (at least one, never the seed, holders of datasets first)
 * leave for good and as many fresh nodes join, which sync the catalog like
 * any new node. For every dataset that lost a holder, the time until it again
 * has `target` live holders (running nodes that hold it in full and provide
 * it) is recorded; the repair loop of the remaining nodes does that work.
 * Observation ends when every loss is restored after the last event, or
 * `graceMs` after it (what is left counts as not restored).
 */
import type { KosmosNode } from "../../../node/node.ts";
import { percentile, round2 } from "../net.ts";
import { progress } from "./fair.ts";
import { holders } from "./scale_phases.ts";
import type { ScaleNetwork } from "./scale_net.ts";

export interface ChurnResult {
  seconds: number;
  events: number;
  /** Datasets still under target when observation ended. */
  notRestored: number;
  left: number;
  joined: number;
  /** Datasets that lost at least one holder (once per event). */
  losses: number;
  restored: number;
  restoreP50Ms: number | null;
  restoreP95Ms: number | null;
  restoreMaxMs: number | null;
}

export async function runChurn(
  net: ScaleNetwork,
  cids: string[],
  options: { events: number; periodMs: number; graceMs: number; share: number; target: number },
): Promise<ChurnResult> {
  const start = performance.now();
  const end = start + (options.events - 1) * options.periodMs + options.graceMs;
  const open = new Map<string, number>();
  const restoreMs: number[] = [];
  let events = 0, left = 0, joined = 0, losses = 0;
  let nextEvent = start;
  // Joins run beside the restore checks (a joining node syncs the catalog first, which takes a while).
  let joining: Promise<void> = Promise.resolve();
  while (performance.now() < end) {
    if (events < options.events && performance.now() >= nextEvent) {
      events++;
      const count = Math.max(1, Math.round(net.nodes.length * options.share));
      const leaving = chooseLeaving(net, cids, count);
      const at = performance.now();
      for (const cid of cids) {
        if (!open.has(cid) && holders(net, cid).some((h) => leaving.includes(h))) {
          open.set(cid, at);
          losses++;
        }
      }
      await Promise.all(leaving.map((n) => net.removeNode(n)));
      left += leaving.length;
      progress(
        `churn ${events}: ${leaving.length} left, ${open.size} datasets under target; joining ${count}`,
      );
      joining = joining.then(async () => {
        for (let i = 0; i < count; i++) {
          await net.addNode().then(
            () => joined++,
            (err) => progress(`a node failed to join: ${err.message}`),
          );
        }
      });
      nextEvent += options.periodMs;
    }
    for (const [cid, at] of open) {
      if (holders(net, cid).length >= options.target) {
        restoreMs.push(performance.now() - at);
        open.delete(cid);
      }
    }
    if (open.size === 0 && events === options.events) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await joining;
  const has = restoreMs.length > 0;
  return {
    seconds: round2((performance.now() - start) / 1000),
    events,
    notRestored: open.size,
    left,
    joined,
    losses,
    restored: restoreMs.length,
    restoreP50Ms: has ? round2(percentile(restoreMs, 50)) : null,
    restoreP95Ms: has ? round2(percentile(restoreMs, 95)) : null,
    restoreMaxMs: has ? round2(Math.max(...restoreMs)) : null,
  };
}

/** `count` random non-seed nodes, holders of some dataset first. */
function chooseLeaving(net: ScaleNetwork, cids: string[], count: number): KosmosNode[] {
  const held = new Set(cids.flatMap((c) => holders(net, c)));
  const shuffle = (xs: KosmosNode[]) =>
    xs.map((x) => ({ x, r: Math.random() })).sort((a, b) => a.r - b.r).map(({ x }) => x);
  const candidates = net.nodes.slice(1);
  return [
    ...shuffle(candidates.filter((n) => held.has(n))),
    ...shuffle(candidates.filter((n) => !held.has(n))),
  ].slice(0, Math.min(count, candidates.length - 1));
}

/**
 * The datasets one repair round visits: those this node holds (or is
 * fetching) and those it could be asked to replicate, that is where it ranks
 * among the closest `circle` candidates (this node and the connected nodes
 * that serve chunks), found through the key ranges of a {@link Neighbourhood}
 * and the `replication_dkey` index. Watched datasets farther away are never
 * read, so a round costs in proportion to this node's share of the network's
 * datasets, not to every listing the catalog indexed.
 *
 * ```ts
 * const circle = new RepairCircle(db);
 * const view = await circle.view(selfId, candidates); // once per round
 * const rows = circle.select(view, 6);                 // in repairOrder: held, then repairable, then the rest
 * view?.rankOf(row.dkey);                              // this node's rank for one dataset
 * ```
 */
import type { Database, Statement } from "../db/mod.ts";
import { peerKey } from "./distance.ts";
import { Neighbourhood } from "./neighbourhood.ts";
import type { Row } from "./schema.ts";

/** Peer keys kept between rounds; a node meets far fewer peers than this. */
const MAX_CACHED_KEYS = 10_000;

/** This node's place among the candidates of one round. */
export interface CircleView {
  /** This node's rank among the candidates for the dataset key `dkey` (64 hex digits); 0 = closest. */
  rankOf(dkey: string): number;
  readonly hood: Neighbourhood;
}

export class RepairCircle {
  readonly #db: Database;
  readonly #keys = new Map<string, Uint8Array>();
  #held?: Statement;
  #range?: Statement;

  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * This node's neighbourhood among `candidates` (peer ids, which include
   * `selfId` when this node offers storage); `undefined` when it does not,
   * since it is then never asked to add a replica.
   */
  async view(selfId: string, candidates: readonly string[]): Promise<CircleView | undefined> {
    if (!candidates.includes(selfId)) return undefined;
    if (this.#keys.size > MAX_CACHED_KEYS) this.#keys.clear();
    const keyOf = async (id: string) => {
      let key = this.#keys.get(id);
      if (!key) this.#keys.set(id, key = await peerKey(id));
      return key;
    };
    const self = await keyOf(selfId);
    const others = await Promise.all(candidates.filter((id) => id !== selfId).map(keyOf));
    const hood = new Neighbourhood(self, others);
    return { hood, rankOf: (dkey) => hood.rankOf(fromHex(dkey)) };
  }

  /**
   * The rows a full round visits: every dataset held here or with a replica
   * role (a fetch for the network under way), and every watched dataset for
   * which this node ranks below `circle` in `view`, in {@link repairOrder}.
   */
  select(view: CircleView | undefined, circle: number): Row[] {
    this.#held ??= this.#db.prepare("SELECT * FROM replication WHERE local = 1 OR role IS NOT NULL");
    this.#range ??= this.#db.prepare("SELECT * FROM replication WHERE dkey BETWEEN ? AND ? AND watched = 1");
    const rows = new Map<string, Row>();
    for (const row of this.#held.all() as unknown as Row[]) rows.set(row.manifest_cid, row);
    for (const [lo, hi] of view?.hood.ranges(circle) ?? []) {
      for (const row of this.#range.all(lo, hi) as unknown as Row[]) rows.set(row.manifest_cid, row);
    }
    return [...rows.values()].sort(repairOrder);
  }
}

/** Order classes of {@link repairOrder}: lower first. */
const NOT_COUNTED = 3;
const CLASS: Record<string, number> = {
  "under-replicated": 1,
  fetching: 1,
  replicated: 2,
  pending: NOT_COUNTED,
  elsewhere: NOT_COUNTED,
  unavailable: 4,
};

/**
 * The order a round counts its rows in, since `maxLookupsPerRound` may stop
 * it before the end: datasets held here first, then those known to have
 * providers (under target before at target: a lost replica is found and
 * replaced first), then those never counted here (or counted elsewhere), and
 * last those nobody provided at their last count, which nothing can repair
 * until a provider is back; within each, least recently counted first, but
 * among those never counted here the most recently watched first. Without
 * it, thousands of listings nobody provides, least recently counted, would
 * take every round's lookups and a dataset that lost a holder would wait
 * behind them for many rounds; and a new dataset (or one a node just became
 * close to as a holder left) would wait behind the thousands of listings a
 * node learnt at once when it joined.
 */
export function repairOrder(a: Row, b: Row): number {
  const byClass = classOf(a) - classOf(b);
  if (byClass !== 0) return byClass;
  return classOf(a) === NOT_COUNTED ? b.created_at - a.created_at : a.checked_at - b.checked_at;
}

function classOf(row: Row): number {
  return row.local === 1 || row.role !== null ? 0 : CLASS[row.status] ?? NOT_COUNTED;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

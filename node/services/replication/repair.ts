/**
 * One dataset's turn in a repair round: count its live providers (when this
 * node holds it or could be asked to add a replica), decide whether this node
 * steps in, and remember for how many rounds it has stayed under its target.
 *
 * ```ts
 * const checker = new DatasetChecker({ c, init, holder, signal, stillWhole, checked });
 * const lookedUp = await checker.check(row, view); // false: too far from the dataset to count
 * checker.forgetExcept(visited);                    // after a full round
 * ```
 *
 * A dataset nobody provides cannot be repaired (there is nothing to fetch
 * from), so counting it every round is work for nothing: after its second
 * count in a row finds no live provider, it rests 1, 3, 7, 15, then 31 rounds
 * (`2^(n-1) - 1` after `n` empty counts) before the next one ({@link
 * DatasetChecker.resting}); one provider found starts it over.
 *
 * A dataset whose last count found its target of live providers is counted
 * without a DHT lookup while those providers still answer: a connected one
 * counts as live (the connection monitor closes a connection whose peer
 * stops answering pings), one no longer connected is probed directly. The
 * DHT is asked again when they fall short, and every {@link LOOKUP_EVERY}
 * rounds to find providers that stopped serving while still connected. So a
 * healthy dataset costs a node almost nothing at rest, and the lookups go to
 * datasets that need them.
 */
import { CID } from "multiformats/cid";
import { peerIdFromString } from "@libp2p/peer-id";
import { CHUNKS_PROTOCOL } from "../../../protocol/topics.ts";
import { chunkBytes } from "../fetches/mod.ts";
import type { CircleView } from "./circle.ts";
import type { Holder } from "./holder.ts";
import { findManifest } from "./local.ts";
import { datasetKeyHex } from "./neighbourhood.ts";
import type { ReplicationComponents, ReplicationInit } from "./replication.ts";
import type { ReplicationStatus, Row } from "./schema.ts";

export interface DatasetCheckerOptions {
  c: ReplicationComponents;
  init: Required<ReplicationInit>;
  holder: Holder;
  /** Aborts when the service stops. */
  signal: () => AbortSignal;
  /** Whether this node still holds every block of a dataset it provides (else it stops providing it). */
  stillWhole: (row: Row) => Promise<boolean>;
  /** Called after a count was stored, with how it was made. */
  checked: (manifestCid: string, result: Exclude<CheckResult, "skipped">) => void;
}

/** Most rounds a dataset nobody provides rests between two counts. */
export const MAX_REST_ROUNDS = 31;

/** Rounds between two DHT lookups of a dataset whose known providers still answer. */
export const LOOKUP_EVERY = 15;

/** How a dataset's turn in a round went: not counted here, counted by a DHT lookup, or from its known providers. */
export type CheckResult = "skipped" | "looked-up" | "confirmed";

export class DatasetChecker {
  readonly #o: DatasetCheckerOptions;
  /** Rounds each dataset has stayed under its target (or skipped as too far) here. */
  readonly #deficitRounds = new Map<string, number>();
  /** Counts in a row that found no live provider of a dataset not held here. */
  readonly #emptyCounts = new Map<string, number>();
  /** When each dataset's providers were last looked up in the DHT here (ms). */
  readonly #lookedUpAt = new Map<string, number>();

  constructor(options: DatasetCheckerOptions) {
    this.#o = options;
  }

  /** Forgets the rounds of datasets a full round no longer visits. */
  forgetExcept(visited: Set<string>): void {
    for (const cid of this.#deficitRounds.keys()) if (!visited.has(cid)) this.#deficitRounds.delete(cid);
    for (const cid of this.#emptyCounts.keys()) if (!visited.has(cid)) this.#emptyCounts.delete(cid);
    for (const cid of this.#lookedUpAt.keys()) if (!visited.has(cid)) this.#lookedUpAt.delete(cid);
  }

  /**
   * Whether a full round at `now` leaves `row` out: its last counts found no
   * live provider and its rest (see the module doc) has not passed since.
   */
  resting(row: Row, now: number): boolean {
    if (row.local === 1 || row.status !== "unavailable") return false;
    const empty = this.#emptyCounts.get(row.manifest_cid) ?? 0;
    const rounds = Math.min(2 ** Math.max(0, empty - 1) - 1, MAX_REST_ROUNDS);
    return now - row.checked_at < rounds * this.#o.init.repairInterval;
  }

  /**
   * Counts live providers of one dataset and starts a replica here when this node is responsible.
   * Says whether it looked them up in the DHT, confirmed its known providers without a lookup, or
   * skipped it (this node is too far from the dataset to count).
   */
  async check(row: Row, view: CircleView | undefined): Promise<CheckResult> {
    const cid = CID.parse(row.manifest_cid);
    const selfId = this.#o.c.p2p.peerId.toString();
    const local = row.local === 1 && await this.#o.stillWhole(row);
    if (!local && row.watched === 1 && !this.#mayStepIn(row, view)) return "skipped";
    let live = await this.#knownLive(row, cid, local);
    const result: CheckResult = live ? "confirmed" : "looked-up";
    if (!live) {
      live = await this.#liveProviders(cid);
      this.#lookedUpAt.set(row.manifest_cid, Date.now());
    }
    if (local) live.add(selfId);
    const providers = [...live].sort();
    let status: ReplicationStatus = live.size >= row.target
      ? "replicated"
      : live.size === 0
      ? "unavailable"
      : "under-replicated";
    const fetch = this.#o.c.fetches.getFetch(row.manifest_cid);
    const fetching = fetch?.status === "queued" || fetch?.status === "running";
    if (fetching) status = "fetching";

    if (!local && !fetching && row.watched === 1 && live.size > 0 && live.size < row.target) {
      const deficit = row.target - live.size;
      const rounds = (this.#deficitRounds.get(row.manifest_cid) ?? 0) + 1;
      this.#deficitRounds.set(row.manifest_cid, rounds);
      // When the closest nodes do not step in (full, offline, quota 0), widen the circle by one node
      // every `escalateRounds` rounds; sooner would race replicas that are still fetching or announcing.
      const slack = this.#slack(row, rounds);
      const candidates = await this.candidates(live);
      const rank = (await this.#o.holder.rankHolders(cid, candidates)).indexOf(selfId);
      if (rank >= 0 && rank < deficit + slack && await this.#hasRoomFor(cid, providers)) {
        this.#o.c.log.info("started replica", {
          manifestCid: row.manifest_cid,
          live: live.size,
          target: row.target,
          rank,
        });
        this.#o.c.fetches.startFetch(row.manifest_cid, { providers: providers.filter((p) => p !== selfId) });
        this.#o.c.db.prepare("UPDATE replication SET role = COALESCE(role, 'replica') WHERE manifest_cid = ?")
          .run(row.manifest_cid);
        status = "fetching";
      }
    } else {
      this.#deficitRounds.delete(row.manifest_cid);
    }
    if (status === "unavailable") {
      this.#emptyCounts.set(row.manifest_cid, (this.#emptyCounts.get(row.manifest_cid) ?? 0) + 1);
    } else this.#emptyCounts.delete(row.manifest_cid);
    this.#o.c.db.prepare(
      "UPDATE replication SET providers = ?, status = ?, checked_at = ? WHERE manifest_cid = ?",
    )
      .run(JSON.stringify(providers), status, Date.now(), row.manifest_cid);
    this.#o.checked(row.manifest_cid, result);
    return result;
  }

  /**
   * The providers of the last count that still answer (connected, or a
   * direct probe), when that count found the target and a DHT lookup was made
   * here in the last {@link LOOKUP_EVERY} rounds and they are still enough;
   * else `undefined` (look them up).
   */
  async #knownLive(row: Row, cid: CID, local: boolean): Promise<Set<string> | undefined> {
    const lookedUpAt = this.#lookedUpAt.get(row.manifest_cid);
    if (row.status !== "replicated" || lookedUpAt === undefined) return undefined;
    if (Date.now() - lookedUpAt >= LOOKUP_EVERY * this.#o.init.repairInterval) return undefined;
    const { p2p, fetches } = this.#o.c;
    const selfId = p2p.peerId.toString();
    const known = (JSON.parse(row.providers) as string[]).filter((id) => id !== selfId);
    const probe = { probeTimeout: this.#o.init.probeTimeout, signal: this.#o.signal() };
    const live = new Set<string>();
    await Promise.all(known.map(async (id) => {
      if (fetches.scores.isBanned(id)) return;
      const connected = p2p.libp2p.getConnections(peerIdFromString(id)).length > 0;
      if (connected || await this.#o.holder.probe(id, cid, probe)) live.add(id);
    }));
    return live.size + (local ? 1 : 0) >= row.target ? live : undefined;
  }

  /** Nodes beyond the closest `target` that may step in after `rounds` rounds under target: at most `target`. */
  #slack(row: Row, rounds: number): number {
    return Math.min(row.target, Math.floor(rounds / this.#o.init.escalateRounds));
  }

  /**
   * Whether this node could be chosen to add a replica of `row` this round,
   * whatever the provider count turns out to be. The chosen ones rank below
   * `deficit + slack` among the candidates that do not hold it; leaving out
   * the live providers lifts a node by at most their number, so a node ranked
   * `target + slack` or further among all candidates is never chosen, and
   * skips the DHT lookup: only the few nodes closest to a dataset count its
   * providers, instead of every node that indexed the listing. Skipped rounds
   * count towards widening the circle, as unanswered deficits do, up to
   * `target` more nodes (the circle a full round visits). The rank comes
   * from this round's `view` (no node offers storage here when it is absent).
   */
  #mayStepIn(row: Row, view: CircleView | undefined): boolean {
    const fetch = this.#o.c.fetches.getFetch(row.manifest_cid);
    if (fetch?.status === "queued" || fetch?.status === "running") return true;
    const rounds = this.#deficitRounds.get(row.manifest_cid) ?? 0;
    const rank = view?.rankOf(row.dkey ?? datasetKeyHex(CID.parse(row.manifest_cid).bytes)) ?? Infinity;
    if (rank < row.target + this.#slack(row, rounds)) return true;
    this.#deficitRounds.set(row.manifest_cid, rounds + 1);
    if (row.status !== "elsewhere") {
      this.#o.c.db.prepare(
        "UPDATE replication SET status = 'elsewhere', checked_at = ? WHERE manifest_cid = ?",
      )
        .run(Date.now(), row.manifest_cid);
    }
    return false;
  }

  /** DHT providers of `cid` (other than this node) that answer a `has` probe for the manifest. */
  #liveProviders(cid: CID): Promise<Set<string>> {
    return this.#o.holder.findLiveHolders(cid, {
      findTimeout: this.#o.init.findTimeout,
      probeTimeout: this.#o.init.probeTimeout,
      signal: this.#o.signal(),
      skip: (peerId) => this.#o.c.fetches.scores.isBanned(peerId),
    });
  }

  /** This node and the connected Kosmos nodes (they speak the chunk protocol), minus `exclude`. */
  async candidates(exclude: Set<string>): Promise<string[]> {
    const out = new Set<string>();
    if (this.#o.c.quotaGB > 0) out.add(this.#o.c.p2p.libp2p.peerId.toString());
    for (const id of await this.#o.c.p2p.protocolPeers(CHUNKS_PROTOCOL)) out.add(id);
    for (const id of exclude) out.delete(id);
    return [...out];
  }

  /** Fetches the manifest (when needed) and checks the replica fits in the storage quota. */
  async #hasRoomFor(cid: CID, providers: string[]): Promise<boolean> {
    if (!(this.#o.c.quotaGB > 0)) return false;
    const manifest = await findManifest(this.#o.c, cid, {
      providers,
      timeout: this.#o.init.probeTimeout * 3,
      signal: this.#o.signal(),
    });
    if (!manifest) return false;
    const size = manifest.chunks.reduce((sum, _c, i) => sum + chunkBytes(manifest, i), 0);
    const used =
      (this.#o.c.db.prepare("SELECT COALESCE(SUM(bytes), 0) AS used FROM replication WHERE role = 'replica'")
        .get() as { used: number }).used;
    const room = this.#o.holder.hasRoom(size, used);
    if (!room) {
      this.#o.c.log.info("declined replica: over storage quota", {
        manifestCid: cid.toString(),
        bytes: size,
      });
    }
    return room;
  }
}

/**
 * Open chunk sessions of one fetch, by provider, shared by all its workers: a
 * worker takes a session to the provider it picked, makes one request and
 * gives it back. Requests on one session are pipelined (sent at once,
 * answered in order), so a session carries up to {@link PIPELINE_DEPTH}
 * workers' requests at once and a provider usually gets ONE stream for the
 * whole fetch: one negotiation, one flow-control window that grows once, and
 * the provider reads the next block while it sends this one.
 *
 * ```ts
 * const sessions = new SessionPool(transfer);
 * const session = await sessions.take(peerId, { signal });
 * try { bytes = await session.get(cid, { signal }); } finally { sessions.give(session); }
 * await sessions.closeAll();
 * ```
 */
import type { ChunkSession, Transfer } from "../transfer/mod.ts";

/** Requests one session carries at once before another is opened to the same provider. */
export const PIPELINE_DEPTH = 8;

interface Entry {
  peerId: string;
  opening: Promise<ChunkSession>;
  session?: ChunkSession;
  /** Workers holding it (taken, not given back yet). */
  users: number;
  /** Not handed out again; aborted when its last user gives it back. */
  retired: boolean;
}

export class SessionPool {
  readonly #transfer: Transfer;
  readonly #byPeer = new Map<string, Entry[]>();
  readonly #entries = new Map<ChunkSession, Entry>();
  readonly #all = new Set<Entry>();

  constructor(transfer: Transfer) {
    this.#transfer = transfer;
  }

  /** A session to `peerId` with room for another request, else a new one (throws what `openSession` throws). */
  async take(peerId: string, options: { signal?: AbortSignal } = {}): Promise<ChunkSession> {
    const entries = (this.#byPeer.get(peerId) ?? []).filter((e) => !e.session?.closed);
    this.#byPeer.set(peerId, entries);
    let entry = entries.find((e) => e.users < PIPELINE_DEPTH);
    if (!entry) {
      entry = { peerId, opening: this.#transfer.openSession(peerId, options), users: 0, retired: false };
      entries.push(entry);
      this.#all.add(entry);
    }
    entry.users++;
    try {
      const session = await entry.opening;
      entry.session = session;
      this.#entries.set(session, entry);
      return session;
    } catch (err) {
      entry.users--;
      this.#forget(entry);
      throw err;
    }
  }

  /** Returns a session after its request; a closed (failed) one is forgotten. */
  give(session: ChunkSession): void {
    const entry = this.#entries.get(session);
    if (!entry) return;
    entry.users--;
    if (session.closed) {
      this.#forget(entry);
    } else if (entry.retired && entry.users === 0) {
      session.abort(new Error("provider served a corrupt block"));
      this.#forget(entry);
    }
  }

  /**
   * Stops handing out sessions to `peerId` (e.g. after it served a corrupt
   * block): idle ones are aborted now, the others when given back.
   */
  abortIdle(peerId: string, err: Error): void {
    for (const entry of this.#byPeer.get(peerId) ?? []) {
      entry.retired = true;
      if (entry.users === 0 && entry.session) {
        entry.session.abort(err);
        this.#forget(entry);
      }
    }
    this.#byPeer.delete(peerId);
  }

  /** Ends every session politely. */
  async closeAll(): Promise<void> {
    const all = [...this.#all];
    this.#all.clear();
    this.#byPeer.clear();
    this.#entries.clear();
    await Promise.all(all.map(async (e) => {
      try {
        await (await e.opening).close();
      } catch { /* never opened: nothing to close */ }
    }));
  }

  #forget(entry: Entry): void {
    this.#all.delete(entry);
    if (entry.session) this.#entries.delete(entry.session);
    const entries = this.#byPeer.get(entry.peerId);
    if (entries) this.#byPeer.set(entry.peerId, entries.filter((e) => e !== entry));
  }
}

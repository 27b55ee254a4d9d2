/**
 * Open chunk sessions of one fetch, by provider, shared by all its workers: a
 * worker takes an idle session to the provider it picked (or opens one),
 * makes one request and gives it back. A provider then gets as many streams
 * as it has requests in flight at once, not one per worker, so fewer streams
 * are negotiated and each one's flow-control window has grown by the time
 * it is used again.
 *
 * ```ts
 * const sessions = new SessionPool(transfer);
 * const session = await sessions.take(peerId, { signal });
 * try { bytes = await session.get(cid, { signal }); } finally { sessions.give(session); }
 * await sessions.closeAll();
 * ```
 */
import type { ChunkSession, Transfer } from "../transfer/mod.ts";

export class SessionPool {
  readonly #transfer: Transfer;
  readonly #idle = new Map<string, ChunkSession[]>();
  readonly #open = new Set<ChunkSession>();

  constructor(transfer: Transfer) {
    this.#transfer = transfer;
  }

  /** An idle open session to `peerId`, else a new one (throws what `openSession` throws). */
  async take(peerId: string, options: { signal?: AbortSignal } = {}): Promise<ChunkSession> {
    const idle = this.#idle.get(peerId);
    while (idle && idle.length > 0) {
      const session = idle.pop()!;
      if (!session.closed) return session;
      this.#open.delete(session);
    }
    const session = await this.#transfer.openSession(peerId, options);
    this.#open.add(session);
    return session;
  }

  /** Returns a session after its request; a closed (failed) one is forgotten. */
  give(session: ChunkSession): void {
    if (session.closed) {
      this.#open.delete(session);
      return;
    }
    const idle = this.#idle.get(session.peerId) ?? [];
    idle.push(session);
    this.#idle.set(session.peerId, idle);
  }

  /** Aborts the idle sessions to `peerId` (e.g. after it served a corrupt block). */
  abortIdle(peerId: string, err: Error): void {
    for (const session of this.#idle.get(peerId) ?? []) {
      session.abort(err);
      this.#open.delete(session);
    }
    this.#idle.delete(peerId);
  }

  /** Ends every session politely. */
  async closeAll(): Promise<void> {
    const open = [...this.#open];
    this.#open.clear();
    this.#idle.clear();
    await Promise.all(open.map((s) => s.close()));
  }
}

/**
 * Work in flight in the replication service (announcements, repair rounds),
 * for `Replication.whenIdle()`: waiters wake once none runs.
 *
 * ```ts
 * const gate = new IdleGate();
 * void gate.run(() => announce());
 * await gate.whenIdle();
 * ```
 */
import { delay } from "../../delay.ts";

export class IdleGate {
  #busy = 0;
  #waiters: (() => void)[] = [];

  /** Runs `work`, counted until it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.#busy++;
    try {
      return await work();
    } finally {
      this.#busy--;
      this.#wake();
    }
  }

  /**
   * Inside {@link run}: waits `ms` without counting as busy (a paced repair
   * round's pause between two lookups is idle time), then counts again.
   */
  async rest(ms: number, signal?: AbortSignal): Promise<void> {
    this.#busy--;
    this.#wake();
    try {
      await delay(ms, signal);
    } finally {
      this.#busy++;
    }
  }

  #wake(): void {
    if (this.#busy !== 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once no counted work runs (at once when none does); rejects with the signal's reason. */
  async whenIdle(signal?: AbortSignal): Promise<void> {
    while (this.#busy > 0) {
      signal?.throwIfAborted();
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(resolve);
      try {
        await promise;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    }
  }
}

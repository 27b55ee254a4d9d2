/**
 * A caller's abort signal combined with a timeout whose timer is cleared on
 * dispose, so no timer outlives the call:
 *
 * ```ts
 * using t = timeoutSignal(5_000, options.signal);
 * await work({ signal: t.signal });
 * ```
 */
import { KosmosError } from "./errors.ts";

/** An operation ran past its deadline. */
export class TimeoutError extends KosmosError {
  override name = "TimeoutError";
}

export interface TimeoutSignal extends Disposable {
  signal: AbortSignal;
}

export function timeoutSignal(ms: number, signal?: AbortSignal): TimeoutSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TimeoutError(`timed out after ${ms} ms`)), ms);
  const combined = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
  return { signal: combined, [Symbol.dispose]: () => clearTimeout(timer) };
}

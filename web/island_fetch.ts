/**
 * Browser-side HTTP helpers the islands share: a JSON request that turns the
 * node's error shape (`{ error: { code, message } }`) into an `Error`, and a
 * hook that polls a JSON resource until it settles. Browser-safe (no Deno
 * APIs): esbuild bundles it into the islands that import it.
 *
 * ```ts
 * const purchase = await requestJson<PurchaseView>(`/api/v1/purchases/${id}`, { signal });
 * ```
 */
import { useEffect, useRef } from "preact/hooks";

/**
 * Sends a request that answers JSON and returns the parsed body. Rejects with
 * the node's error message (or `The node answered <status>` when the error
 * body is not JSON) when the status is not 2xx.
 */
export async function requestJson<T>(
  url: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<T> {
  const response = await fetch(url, { ...init, headers: { accept: "application/json", ...init.headers } });
  const body = await response.json().catch((err) => response.ok ? Promise.reject(err) : {});
  if (!response.ok) throw new Error(body?.error?.message ?? `The node answered ${response.status}`);
  return body as T;
}

export interface PollJsonOptions<T> {
  /** Milliseconds before the first request and between the end of one and the start of the next. */
  intervalMs: number;
  /** Takes each body; returns whether to keep polling. */
  onData: (body: T) => boolean;
  /** Takes the error of a failed request (never one caused by stopping); polling goes on. */
  onError: (err: Error) => void;
}

/**
 * GETs `url` as JSON every `intervalMs` while it is not `null`, one request at
 * a time, until `onData` returns `false`. Changing `url` or `intervalMs`
 * restarts the loop; unmounting or a `null` url stops it and aborts the
 * request in flight.
 */
export function usePollJson<T>(url: string | null, options: PollJsonOptions<T>): void {
  const { intervalMs } = options;
  const handlers = useRef(options);
  handlers.current = options;

  useEffect(() => {
    if (url === null) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const body = await requestJson<T>(url, { signal: controller.signal });
        if (!handlers.current.onData(body)) return;
      } catch (err) {
        if (controller.signal.aborted) return;
        handlers.current.onError(err as Error);
      }
      if (!controller.signal.aborted) timer = setTimeout(poll, intervalMs);
    };
    timer = setTimeout(poll, intervalMs);
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [url, intervalMs]);
}

/**
 * The webhook connector: one `POST` per batch with the JSON body
 * `{ seq, format, rows }`. Network errors, 5xx and 429 are retried with
 * exponential backoff (`backoff`, `2 × backoff`, `4 × backoff`, …); any
 * other status fails at once. After `retries` retries it gives up with a
 * {@link DeliveryError} naming the URL and the last status.
 *
 * ```ts
 * const connector = webhookConnector({ url: "https://example.com/hook", retries: 3 });
 * await connector.deliver({ rows, format: "ndjson", seq: 1 }, { signal });
 * ```
 */
import { delay } from "../../delay.ts";
import type { Connector } from "./connector.ts";
import { DeliveryError } from "./connector.ts";

export interface WebhookConnectorInit {
  /** `http:` or `https:` URL. */
  url: string;
  /** Extra request headers (for example `Authorization`). @default {} */
  headers?: Record<string, string>;
  /** Retries after the first try. @default 4 */
  retries?: number;
  /** Milliseconds before the first retry; doubles each time. @default 500 */
  backoff?: number;
  /** Milliseconds one request may take. @default 30000 */
  timeout?: number;
}

/** The URL without its query, fragment or credentials, safe to show and log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

export function webhookConnector(init: WebhookConnectorInit): Connector {
  let url: URL;
  try {
    url = new URL(init.url);
  } catch {
    throw new TypeError(`Cannot deliver to webhook "${init.url.slice(0, 200)}": not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`Cannot deliver to webhook "${redactUrl(init.url)}": only http and https URLs`);
  }
  const retries = init.retries ?? 4;
  const backoff = init.backoff ?? 500;
  const timeout = init.timeout ?? 30_000;
  if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`retries must be ≥ 0, got ${retries}`);
  const shown = redactUrl(init.url);

  return {
    name: "webhook",
    async deliver(batch, options) {
      const body = JSON.stringify({ seq: batch.seq, format: batch.format, rows: batch.rows });
      let lastStatus: number | undefined;
      let lastError = "";
      for (let attempt = 1; attempt <= retries + 1; attempt++) {
        options.signal?.throwIfAborted();
        if (attempt > 1) await delay(backoff * 2 ** (attempt - 2), options.signal);
        const signal = AbortSignal.any(
          [AbortSignal.timeout(timeout), options.signal].filter((s) => s !== undefined),
        );
        let response: Response;
        try {
          response = await fetch(url, {
            method: "POST",
            headers: { ...init.headers, "Content-Type": "application/json" },
            body,
            signal,
            redirect: "error",
          });
        } catch (cause) {
          options.signal?.throwIfAborted();
          lastStatus = undefined;
          lastError = `Cannot reach ${shown}: ${(cause as Error).message}`;
          options.onAttempt?.({ seq: batch.seq, attempt, error: lastError });
          continue;
        }
        await response.body?.cancel();
        lastStatus = response.status;
        if (response.ok) {
          options.onAttempt?.({ seq: batch.seq, attempt, status: response.status });
          return;
        }
        lastError = `${shown} answered ${response.status}`;
        options.onAttempt?.({ seq: batch.seq, attempt, status: response.status, error: lastError });
        if (response.status !== 429 && response.status < 500) {
          throw new DeliveryError(
            `Cannot deliver batch ${batch.seq} to ${shown}: it answered ${response.status}`,
            {
              status: response.status,
            },
          );
        }
      }
      throw new DeliveryError(
        `Cannot deliver batch ${batch.seq} to ${shown}: gave up after ${retries + 1} tries (last ${
          lastStatus === undefined ? `error: ${lastError}` : `status ${lastStatus}`
        })`,
        lastStatus === undefined ? {} : { status: lastStatus },
      );
    },
  };
}

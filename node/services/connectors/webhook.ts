/**
 * The webhook connector: one `POST` per batch with the JSON body
 * `{ seq, format, rows }`. Network errors, 5xx and 429 are retried with
 * exponential backoff (`backoff`, `2 × backoff`, `4 × backoff`, …); any
 * other status fails at once. After `retries` retries it gives up with a
 * {@link DeliveryError} naming the URL and the last status.
 *
 * Before every request the host is resolved and checked (`targets.ts`): a
 * host that resolves to a loopback, private, link-local or otherwise
 * non-public address is refused unless it is allowed, and the request then
 * connects to exactly the addresses that passed, so a DNS answer that changes
 * between check and connect (rebinding) reaches nothing new. Redirects are
 * never followed: a 3xx answer fails the batch like any other 4xx.
 *
 * ```ts
 * const connector = webhookConnector({ url: "https://example.com/hook", retries: 3 });
 * await connector.deliver({ rows, format: "ndjson", seq: 1 }, { signal });
 * ```
 */
import { delay } from "../../delay.ts";
import type { Connector } from "./connector.ts";
import { DeliveryError } from "./connector.ts";
import { checkWebhookTarget, type DeliveryPolicy } from "./targets.ts";
import type { KosmosError } from "../../errors.ts";

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
  /** Hosts and ranges that may be reached although not public, and the resolver. @default {} */
  policy?: Pick<DeliveryPolicy, "webhookAllow" | "lookup">;
  /** Root certificates (PEM) to trust besides the system's, for `https:`. @default [] */
  caCerts?: string[];
}

/** Largest response head read; the body is never read. */
const MAX_RESPONSE_HEAD = 16 * 1024;

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
  const headers: Record<string, string> = { ...init.headers };
  if (url.username !== "" || url.password !== "") {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.Authorization = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(credentials)))}`;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) {
      throw new TypeError(
        `Cannot deliver to webhook "${shown}": bad header ${JSON.stringify(name.slice(0, 40))}`,
      );
    }
  }

  return {
    name: "webhook",
    async deliver(batch, options) {
      const body = new TextEncoder().encode(
        JSON.stringify({ seq: batch.seq, format: batch.format, rows: batch.rows }),
      );
      let lastStatus: number | undefined;
      let lastError = "";
      for (let attempt = 1; attempt <= retries + 1; attempt++) {
        options.signal?.throwIfAborted();
        if (attempt > 1) await delay(backoff * 2 ** (attempt - 2), options.signal);
        const signal = AbortSignal.any(
          [AbortSignal.timeout(timeout), options.signal].filter((s) => s !== undefined),
        );
        let status: number;
        try {
          // Checked before every try: what the name resolves to may have changed.
          const addresses = await checkWebhookTarget(url, init.policy ?? {});
          status = await postTo(url, addresses, headers, body, { signal, caCerts: init.caCerts });
        } catch (cause) {
          options.signal?.throwIfAborted();
          // A refused address is final; a name that did not resolve may resolve on the next try.
          if (
            (cause as KosmosError).name === "DeliveryTargetError" && (cause as KosmosError).details.address
          ) {
            const error = (cause as Error).message;
            options.onAttempt?.({ seq: batch.seq, attempt, error });
            throw new DeliveryError(error, { cause });
          }
          lastStatus = undefined;
          lastError = `Cannot reach ${shown}: ${(cause as Error).message}`;
          options.onAttempt?.({ seq: batch.seq, attempt, error: lastError });
          continue;
        }
        const response = { status, ok: status >= 200 && status < 300 };
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

/**
 * Sends one HTTP/1.1 `POST` of `body` to `url` over a connection to one of
 * `addresses` (tried in order; TLS for `https:`, verified against the URL's
 * host name) and resolves with the response status. The response body is not
 * read.
 */
async function postTo(
  url: URL,
  addresses: string[],
  headers: Record<string, string>,
  body: Uint8Array,
  options: { signal: AbortSignal; caCerts?: string[] },
): Promise<number> {
  const { signal } = options;
  const https = url.protocol === "https:";
  const port = Number(url.port || (https ? 443 : 80));
  let tcp: Deno.TcpConn | undefined;
  let lastError: unknown;
  for (const hostname of addresses) {
    try {
      tcp = await Deno.connect({ hostname, port, signal });
      break;
    } catch (err) {
      signal.throwIfAborted();
      lastError = err;
    }
  }
  if (tcp === undefined) throw lastError ?? new Error("no address to connect to");
  let conn: Deno.Conn = tcp;
  const close = () => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  signal.addEventListener("abort", close, { once: true });
  try {
    if (https) {
      conn = await Deno.startTls(tcp, {
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        caCerts: options.caCerts,
        alpnProtocols: ["http/1.1"],
      });
    }
    const head = [
      `POST ${url.pathname || "/"}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      ...Object.entries(headers).filter(([name]) => !/^(host|content-length|connection)$/i.test(name))
        .map(([name, value]) => `${name}: ${value}`),
      "Content-Type: application/json",
      `Content-Length: ${body.byteLength}`,
      "Connection: close",
      "",
      "",
    ].join("\r\n");
    await writeAll(conn, new TextEncoder().encode(head));
    await writeAll(conn, body);
    return await readStatus(conn);
  } catch (err) {
    signal.throwIfAborted();
    throw err;
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.byteLength;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Reads response heads until a final one (interim 1xx are skipped) and returns its status. */
async function readStatus(conn: Deno.Conn): Promise<number> {
  const buffer = new Uint8Array(MAX_RESPONSE_HEAD);
  let length = 0;
  for (;;) {
    const text = new TextDecoder("latin1").decode(buffer.subarray(0, length));
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const match = /^HTTP\/1\.[01] (\d{3})(?: |\r)/.exec(text);
      if (!match) throw new Error("the answer is not HTTP/1.1");
      const status = Number(match[1]);
      if (status >= 200 || status === 101) return status;
      buffer.copyWithin(0, end + 4, length);
      length -= end + 4;
      continue;
    }
    if (length === buffer.byteLength) throw new Error(`the response head is over ${MAX_RESPONSE_HEAD} bytes`);
    const n = await conn.read(buffer.subarray(length));
    if (n === null) throw new Error("the connection closed before a response");
    length += n;
  }
}

/**
 * Chrome history from Google Takeout, `BrowserHistory.json`: `{"Browser History": [{ favicon_url,
 * page_transition, title, url, client_id, time_usec }]}`, or the bare array some exports write.
 * Every field but `time_usec` may be missing. The domain is the URL's host, without `www.`.
 */
import { readJsonArray } from "./json.ts";
import { batchRows, type Fail, failAt, rowBuilder } from "./rows.ts";
import type { Importer } from "./types.ts";
import { quote } from "./values.ts";
import type { SourceRow } from "../../../../protocol/sources.ts";

const row = rowBuilder("chrome");

function text(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

/** The host of a URL without `www.`; null for URLs without one (`about:blank`, `file:`). */
export function domainOf(url: string | null): string | null {
  if (url === null) return null;
  try {
    const host = new URL(url).hostname.toLowerCase();
    return host === "" ? null : host.replace(/^www\./, "");
  } catch {
    return null;
  }
}

async function* rows(input: ReadableStream<Uint8Array>, filename: string): AsyncGenerator<SourceRow> {
  const entries = readJsonArray(input, {
    filename,
    what: "a Chrome BrowserHistory.json",
    key: "Browser History",
  });
  for await (const { value, record } of entries) {
    const fail: Fail = failAt(filename, `record ${record}`);
    if (typeof value !== "object" || value === null || Array.isArray(value)) fail("not an object");
    const entry = value as Record<string, unknown>;
    if (!("time_usec" in entry)) fail("no time_usec: not a Chrome history entry");
    const usec = entry.time_usec;
    const n = typeof usec === "number"
      ? usec
      : typeof usec === "string" && /^\d+$/.test(usec)
      ? Number(usec)
      : NaN;
    if (!Number.isFinite(n) || n < 0) fail(`time_usec ${quote(String(usec))} is not a time in microseconds`);
    const url = text(entry.url);
    yield row({
      visitedAt: Math.floor(n / 1000),
      domain: domainOf(url),
      transition: text(entry.page_transition),
      url,
      title: text(entry.title),
      clientId: text(entry.client_id),
    });
  }
}

export const chrome: Importer = {
  kind: "chrome",
  parse: (input, { filename, signal }) => batchRows(rows(input, filename), signal),
};

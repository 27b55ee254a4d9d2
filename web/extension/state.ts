/**
 * What the extension keeps in `chrome.storage.local`, and the pure rules over it: which page loads
 * become visits, and what would be shared (each visit's domain and hour, the way the node's
 * anonymization coarsens them). No browser API here, so the rules are tested as plain functions.
 */
import { type BrowsingVisit, domainOfUrl } from "../../protocol/browsing.ts";

export interface ExtensionState {
  /** Visits recorded and not yet sent, oldest first. */
  visits: BrowsingVisit[];
  /** While true nothing is recorded. */
  paused: boolean;
  /** Domains never recorded (and their subdomains). */
  excluded: string[];
  /** The node paired with, e.g. `http://127.0.0.1:7464`, and the token it gave; `null` before pairing. */
  nodeUrl: string | null;
  token: string | null;
  /** The last send: when, and what happened. */
  lastSend: { at: number; sent: number; message: string } | null;
}

export const DEFAULT_STATE: ExtensionState = {
  visits: [],
  paused: false,
  excluded: [],
  nodeUrl: null,
  token: null,
  lastSend: null,
};

/** Visits kept at most while none can be sent; the oldest go first. */
export const MAX_STORED_VISITS = 50_000;

/** Reads the state from a storage record, filling in what is missing or malformed. */
export function readState(stored: Record<string, unknown>): ExtensionState {
  const strings = (v: unknown) => Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  return {
    visits: Array.isArray(stored.visits) ? stored.visits as BrowsingVisit[] : [],
    paused: stored.paused === true,
    excluded: strings(stored.excluded),
    nodeUrl: typeof stored.nodeUrl === "string" ? stored.nodeUrl : null,
    token: typeof stored.token === "string" ? stored.token : null,
    lastSend: typeof stored.lastSend === "object" && stored.lastSend !== null
      ? stored.lastSend as ExtensionState["lastSend"]
      : null,
  };
}

/** Whether `domain` is `rule` or one of its subdomains. */
export function isExcluded(domain: string, excluded: readonly string[]): boolean {
  return excluded.some((rule) => domain === rule || domain.endsWith(`.${rule}`));
}

/** A typed exclusion as a domain (`https://www.Example.org/x` → `example.org`); null when it is none. */
export function normalizeExclusion(typed: string): string | null {
  const text = typed.trim();
  if (text === "") return null;
  return domainOfUrl(/^[a-z]+:\/\//i.test(text) ? text : `https://${text}`);
}

/** A page load as the tab listener sees it. */
export interface PageLoad {
  url: string;
  incognito: boolean;
  at: number;
}

/**
 * The visit a top-level page load is, or null when it must not be recorded: an incognito tab, a
 * paused extension, a scheme other than http(s), the paired node's own pages, an excluded domain.
 */
export function visitOf(load: PageLoad, state: Pick<ExtensionState, "paused" | "excluded" | "nodeUrl">) {
  if (load.incognito || state.paused) return null;
  const domain = domainOfUrl(load.url);
  if (domain === null) return null;
  if (state.nodeUrl !== null && sameOrigin(load.url, state.nodeUrl)) return null;
  if (isExcluded(domain, state.excluded)) return null;
  return { domain, visitedAt: Math.floor(load.at) } satisfies BrowsingVisit;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** What would be shared: one line per domain and UTC hour, with its number of visits, newest first. */
export function summarize(
  visits: readonly BrowsingVisit[],
): { domain: string; hour: number; visits: number }[] {
  const lines = new Map<string, { domain: string; hour: number; visits: number }>();
  for (const v of visits) {
    const hour = v.visitedAt - (v.visitedAt % 3_600_000);
    const key = `${hour} ${v.domain}`;
    const line = lines.get(key) ?? { domain: v.domain, hour, visits: 0 };
    line.visits++;
    lines.set(key, line);
  }
  return [...lines.values()].sort((x, y) => y.hour - x.hour || x.domain.localeCompare(y.domain));
}

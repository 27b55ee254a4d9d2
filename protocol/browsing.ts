/**
 * One visit of the browsing log the Kosmos browser extension records and sends to its own node:
 * the site's domain (a host name, nothing of the path) and when it was visited. Shared by the
 * extension (what it records), the API's body schema and the `browsing` importer, so all three
 * accept exactly the same visits.
 *
 * ```ts
 * browsingVisitProblem({ domain: "example.org", visitedAt: Date.now() }); // null
 * browsingVisitProblem({ domain: "https://example.org/x", visitedAt: 1 }); // "domain … is not a host name …"
 * ```
 */

/** One visit: `domain` a lower-case host name, `visitedAt` ms since the epoch. */
export interface BrowsingVisit {
  domain: string;
  visitedAt: number;
}

/** Most visits one `POST /api/v1/extension/visits` carries. */
export const MAX_VISITS_PER_SEND = 5000;
/** Earliest visit time accepted: 2000-01-01 UTC. */
export const EARLIEST_VISIT = Date.UTC(2000, 0, 1);
/** How far ahead of the receiver's clock a visit may be (clocks drift). */
export const VISIT_CLOCK_SKEW = 24 * 3600_000;
/** Longest host name (RFC 1035). */
export const MAX_DOMAIN_LENGTH = 253;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * What is wrong with `domain` as a visited site, or null: a lower-case host name (letters, digits
 * and hyphens in dot-separated labels, punycode `xn--` labels allowed), or an IPv4 address; no
 * scheme, path, port, user or trailing dot.
 */
export function domainProblem(domain: unknown): string | null {
  if (typeof domain !== "string") return "domain is not text";
  const shown = JSON.stringify(domain.length > 60 ? `${domain.slice(0, 60)}…` : domain);
  if (domain.length === 0) return "domain is empty";
  if (domain.length > MAX_DOMAIN_LENGTH) {
    return `domain ${shown} is longer than ${MAX_DOMAIN_LENGTH} characters`;
  }
  if (domain !== domain.toLowerCase()) return `domain ${shown} is not lower case`;
  const labels = domain.split(".");
  if (!labels.every((l) => LABEL.test(l))) {
    return `domain ${shown} is not a host name (only the site's name: no scheme, path, port or spaces)`;
  }
  return null;
}

/** What is wrong with `at` as a visit time (ms since the epoch) when the receiver's clock reads `now`, or null. */
export function visitTimeProblem(at: unknown, now: number = Date.now()): string | null {
  if (typeof at !== "number" || !Number.isSafeInteger(at)) return "visitedAt is not a whole number of ms";
  if (at < EARLIEST_VISIT) return `visitedAt ${at} is before 2000-01-01`;
  if (at > now + VISIT_CLOCK_SKEW) return `visitedAt ${at} is in the future`;
  return null;
}

/** What is wrong with `value` as a {@link BrowsingVisit}, or null. */
export function browsingVisitProblem(value: unknown, now: number = Date.now()): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not an object";
  const extra = Object.keys(value).find((k) => k !== "domain" && k !== "visitedAt");
  if (extra !== undefined) return `unknown field ${JSON.stringify(extra.slice(0, 40))}`;
  const visit = value as Record<string, unknown>;
  return domainProblem(visit.domain) ?? visitTimeProblem(visit.visitedAt, now);
}

/** The domain the extension records for a page URL: its host without `www.`; null for other schemes. */
export function domainOfUrl(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  const host = parsed.hostname.toLowerCase().replace(/^www\./, "");
  return domainProblem(host) === null ? host : null;
}

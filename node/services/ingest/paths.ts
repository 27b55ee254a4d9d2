/**
 * First-party paths: per site, a script path and an event path of the site
 * owner's choosing (`/js/stats.js`, `/x/collect`), at which this node serves
 * the tracker and takes events as it does at `/js/kosmos.js` and
 * `/api/event`. A site that reverse-proxies those paths from its own domain
 * to the node then loads nothing whose name a blocker list knows.
 *
 * ```ts
 * const paths = new FirstPartyPaths(db);
 * paths.setPaths("example.com", { scriptPath: "/js/stats.js", eventPath: "/x/collect" });
 * paths.resolve("/x/collect"); // { kind: "event", site: "example.com" }
 * ```
 */
import { type Database, migrate } from "../db/mod.ts";

export interface SitePaths {
  /** Where the tracker is served besides `/js/kosmos.js`. */
  scriptPath?: string;
  /** Where events are taken besides `/api/event`. */
  eventPath?: string;
}

const MIGRATIONS = [
  `CREATE TABLE ingest_site_paths (
    site TEXT PRIMARY KEY,
    script_path TEXT UNIQUE,
    event_path TEXT UNIQUE
  ) WITHOUT ROWID;`,
];

const PATH = /^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+){0,4}$/;
/** Paths the node's own routes live under; a first-party path may not shadow them. */
const RESERVED = [/^\/api\/v\d+(\/|$)/, /^\/static\//, /^\/login$/, /^\/js\/kosmos\.js$/, /^\/api\/event$/];

/** Throws a `TypeError` naming `field` unless `path` is a plain absolute path the node does not use itself. */
export function checkSitePath(path: unknown, field: string): string {
  if (typeof path !== "string" || path.length > 100 || !PATH.test(path) || path.split("/").includes("..")) {
    throw new TypeError(
      `Field "${field}" must be an absolute path of letters, digits and . _ ~ - such as "/js/stats.js"`,
    );
  }
  if (RESERVED.some((re) => re.test(path))) {
    throw new TypeError(`Field "${field}": ${path} is one of this node's own routes`);
  }
  return path;
}

export class FirstPartyPaths {
  #db: Database;
  #byPath = new Map<string, { kind: "script" | "event"; site: string }>();

  constructor(db: Database) {
    this.#db = db;
    migrate(db, "ingest_paths", MIGRATIONS);
    this.#load();
  }

  /** The site's paths (none set: `{}`). */
  getPaths(site: string): SitePaths {
    const row = this.#db.prepare("SELECT script_path, event_path FROM ingest_site_paths WHERE site = ?").get(
      site,
    ) as
      | { script_path: string | null; event_path: string | null }
      | undefined;
    const paths: SitePaths = {};
    if (row?.script_path) paths.scriptPath = row.script_path;
    if (row?.event_path) paths.eventPath = row.event_path;
    return paths;
  }

  /**
   * Sets (or, with neither path, clears) a site's paths. Throws a `TypeError`
   * for a bad path, the same path twice, or a path another site uses.
   */
  setPaths(site: string, paths: SitePaths): SitePaths {
    const scriptPath = paths.scriptPath === undefined ? null : checkSitePath(paths.scriptPath, "scriptPath");
    const eventPath = paths.eventPath === undefined ? null : checkSitePath(paths.eventPath, "eventPath");
    if (scriptPath !== null && scriptPath === eventPath) {
      throw new TypeError('Fields "scriptPath" and "eventPath" must differ');
    }
    for (const path of [scriptPath, eventPath]) {
      const taken = path === null ? undefined : this.#byPath.get(path);
      if (taken && taken.site !== site) {
        throw new TypeError(`The path ${path} is already used by ${taken.site}`);
      }
    }
    if (scriptPath === null && eventPath === null) {
      this.#db.prepare("DELETE FROM ingest_site_paths WHERE site = ?").run(site);
    } else {
      this.#db.prepare(
        `INSERT INTO ingest_site_paths (site, script_path, event_path) VALUES (?, ?, ?)
         ON CONFLICT (site) DO UPDATE SET script_path = excluded.script_path, event_path = excluded.event_path`,
      ).run(site, scriptPath, eventPath);
    }
    this.#load();
    return this.getPaths(site);
  }

  /** What `path` serves, when it is a site's first-party path. */
  resolve(path: string): { kind: "script" | "event"; site: string } | undefined {
    return this.#byPath.get(path);
  }

  #load(): void {
    const rows = this.#db.prepare("SELECT site, script_path, event_path FROM ingest_site_paths").all() as {
      site: string;
      script_path: string | null;
      event_path: string | null;
    }[];
    this.#byPath = new Map();
    for (const row of rows) {
      if (row.script_path) this.#byPath.set(row.script_path, { kind: "script", site: row.site });
      if (row.event_path) this.#byPath.set(row.event_path, { kind: "event", site: row.site });
    }
  }
}

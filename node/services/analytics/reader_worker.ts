/**
 * Worker side of {@link EventsReader}: one read-only connection, opened on the
 * first message, and one read per message.
 *
 *     { id, path, op: "rows", sql, params }     → { id, result: rows } | { id, error }
 *     { id, path, op: "table", site, options }  → { id, result: BoundedTable } | { id, error }
 */
import { DatabaseSync } from "node:sqlite";
import { computeBoundedTable, type ComputeBoundedTableOptions } from "./bounded_table.ts";
import { registerRegexp } from "./dialects.ts";

interface WorkerScope {
  addEventListener(type: "message", listener: (evt: MessageEvent) => void): void;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;
let db: DatabaseSync | undefined;

scope.addEventListener("message", (evt: MessageEvent) => {
  const { id, path, ...work } = evt.data as
    & { id: number; path: string }
    & (
      | { op: "rows"; sql: string; params: (string | number)[] }
      | { op: "table"; site: string; options: ComputeBoundedTableOptions }
    );
  try {
    if (!db) {
      db = new DatabaseSync(path, { readOnly: true });
      // A writer checkpointing the WAL can hold a lock for a moment.
      db.exec("PRAGMA busy_timeout = 5000");
      registerRegexp(db); // the stats queries' \`matches\` filters and page goals
    }
    const result = work.op === "rows"
      ? db.prepare(work.sql).all(...work.params)
      : computeBoundedTable(db, work.site, work.options);
    scope.postMessage({ id, result });
  } catch (err) {
    scope.postMessage({ id, error: String((err as Error)?.message ?? err) });
  }
});

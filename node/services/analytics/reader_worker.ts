/**
 * Worker side of {@link EventsReader}: one read-only connection, opened on the
 * first statement, and one statement per message.
 *
 *     { id, path, sql, params } → { id, rows } | { id, error }
 */
import { DatabaseSync } from "node:sqlite";

interface WorkerScope {
  addEventListener(type: "message", listener: (evt: MessageEvent) => void): void;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;
let db: DatabaseSync | undefined;

scope.addEventListener("message", (evt: MessageEvent) => {
  const { id, path, sql, params } = evt.data as {
    id: number;
    path: string;
    sql: string;
    params: (string | number)[];
  };
  try {
    if (!db) {
      db = new DatabaseSync(path, { readOnly: true });
      // A writer checkpointing the WAL can hold a lock for a moment.
      db.exec("PRAGMA busy_timeout = 5000");
    }
    scope.postMessage({ id, rows: db.prepare(sql).all(...params) });
  } catch (err) {
    scope.postMessage({ id, error: String((err as Error)?.message ?? err) });
  }
});

/**
 * The sources' tables: each import of an export file (`sources`), its rows (`source_rows`, one
 * JSON object per row, indexed in time order), and the publications made from them
 * (`publications`).
 *
 * An import is one logical unit. Its rows are written in batched transactions under a source
 * marked pending, and the source is flipped to complete, with its row count and time range, in
 * one last transaction: before that commit nothing of it is listed or read, and a failed or
 * abandoned import removes what it wrote. A pending source left by a killed process is removed
 * when the store opens. Deleting a source hides it first, then removes its rows in steps.
 *
 * ```ts
 * const store = new SourceStore(db);
 * store.open();
 * const source = await store.writeImport("netflix", batches, { filename: "ViewingActivity.csv" });
 * for (const row of store.rows(source.id)) console.log(row.startedAt);
 * ```
 */
import { type Database, migrate, transaction } from "../db/mod.ts";
import { NotFoundError } from "../../errors.ts";
import {
  type BankMapping,
  SOURCE_KIND_INFO,
  SOURCE_KINDS,
  type SourceKind,
  type SourceRow,
} from "../../../protocol/sources.ts";
import type { PrivacyReport } from "../../../protocol/manifest.ts";
import { ImportError } from "./importers/types.ts";
import { sourceRowProblem } from "./importers/rows.ts";

/** An import as stored. */
export interface SourceRecord {
  id: string;
  kind: SourceKind;
  filename: string;
  rows: number;
  /** ms since the epoch. */
  importedAt: number;
  /** Earliest and latest time of its rows (ms), `null` without rows. */
  from: number | null;
  to: number | null;
  /** Bank statements: the column mapping the rows were read with. */
  mapping?: BankMapping;
}

/** A publication as stored; its sales are the market's. */
export interface PublicationRecord {
  id: string;
  manifestCid: string;
  title: string;
  purpose: string;
  kinds: SourceKind[];
  excluded: { kind: SourceKind; reason: string }[];
  /** Consent token ids, decimal. */
  consentIds: string[];
  rows: number;
  privacy: PrivacyReport;
  /** Ownership token id, decimal; `null` when recording it failed. */
  ownershipTokenId: string | null;
  createdAt: number;
}

export interface WriteImportOptions {
  filename: string;
  mapping?: BankMapping;
  signal?: AbortSignal;
}

/** Longest text value a row may hold, in characters. */
export const MAX_TEXT_LENGTH = 8192;
/** Rows removed per transaction when a source is deleted or an import discarded. */
const DELETE_STEP = 20_000;

const MIGRATIONS = [
  `CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    filename TEXT NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0,
    imported_at INTEGER NOT NULL,
    from_ms INTEGER,
    to_ms INTEGER,
    mapping TEXT,
    complete INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE TABLE source_rows (
    source_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (source_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX source_rows_time ON source_rows (source_id, at, seq);
  CREATE TABLE publications (
    id TEXT PRIMARY KEY,
    manifest_cid TEXT NOT NULL,
    title TEXT NOT NULL,
    purpose TEXT NOT NULL,
    kinds TEXT NOT NULL,
    excluded TEXT NOT NULL,
    consent_ids TEXT NOT NULL,
    rows INTEGER NOT NULL,
    privacy TEXT NOT NULL,
    ownership_token_id TEXT,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;`,
];

interface SourceRowRecord {
  id: string;
  kind: string;
  filename: string;
  rows: number;
  imported_at: number;
  from_ms: number | null;
  to_ms: number | null;
  mapping: string | null;
}

interface PublicationRowRecord {
  id: string;
  manifest_cid: string;
  title: string;
  purpose: string;
  kinds: string;
  excluded: string;
  consent_ids: string;
  rows: number;
  privacy: string;
  ownership_token_id: string | null;
  created_at: number;
}

export class SourceStore {
  readonly #db: Database;
  #insertRow?: ReturnType<Database["prepare"]>;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Runs the migrations and removes what an import cut short by a crash left behind. */
  open(): void {
    migrate(this.#db, "sources", MIGRATIONS);
    const pending = this.#db.prepare("SELECT id FROM sources WHERE complete = 0").all() as { id: string }[];
    for (const { id } of pending) this.#removeRows(id, { andSource: true });
    const orphans = this.#db.prepare(
      "SELECT DISTINCT source_id AS id FROM source_rows WHERE source_id NOT IN (SELECT id FROM sources)",
    ).all() as { id: string }[];
    for (const { id } of orphans) this.#removeRows(id, { andSource: false });
  }

  /**
   * Writes an import's batches of rows, each checked against its kind's fields, and lists the
   * source once the last batch is in. Throws {@link ImportError} naming the row for a row that
   * is not of its kind; on any failure (or abort) nothing of the import stays.
   */
  async writeImport(
    kind: SourceKind,
    batches: AsyncIterable<SourceRow[]>,
    options: WriteImportOptions,
  ): Promise<SourceRecord> {
    const id = crypto.randomUUID();
    const importedAt = Date.now();
    const db = this.#db;
    db.prepare(
      "INSERT INTO sources (id, kind, filename, imported_at, mapping, complete) VALUES (?, ?, ?, ?, ?, 0)",
    ).run(id, kind, options.filename, importedAt, options.mapping ? JSON.stringify(options.mapping) : null);
    this.#insertRow ??= db.prepare("INSERT INTO source_rows (source_id, seq, at, data) VALUES (?, ?, ?, ?)");
    const insert = this.#insertRow;
    const check = rowChecker(kind, options.filename);
    const timeField = SOURCE_KIND_INFO[kind].timeField;
    let seq = 0;
    let from: number | null = null;
    let to: number | null = null;
    try {
      for await (const batch of batches) {
        options.signal?.throwIfAborted();
        if (batch.length === 0) continue;
        transaction(db, () => {
          for (const row of batch) {
            check(row, seq);
            const at = row[timeField] as number | null;
            if (at !== null) {
              if (from === null || at < from) from = at;
              if (to === null || at > to) to = at;
            }
            insert.run(id, seq, at, JSON.stringify(row));
            seq++;
          }
        });
      }
      options.signal?.throwIfAborted();
      db.prepare("UPDATE sources SET complete = 1, rows = ?, from_ms = ?, to_ms = ? WHERE id = ?")
        .run(seq, from, to, id);
    } catch (err) {
      this.#removeRows(id, { andSource: true });
      throw err;
    }
    return {
      id,
      kind,
      filename: options.filename,
      rows: seq,
      importedAt,
      from,
      to,
      ...(options.mapping && { mapping: options.mapping }),
    };
  }

  /**
   * Appends `rows` to the complete import `id`, each checked against its kind's fields, in one
   * transaction: all of them are stored or none. `NotFoundError` for an unknown id.
   */
  appendRows(id: string, rows: readonly SourceRow[]): SourceRecord {
    const source = this.get(id);
    const check = rowChecker(source.kind, source.filename);
    const timeField = SOURCE_KIND_INFO[source.kind].timeField;
    this.#insertRow ??= this.#db.prepare(
      "INSERT INTO source_rows (source_id, seq, at, data) VALUES (?, ?, ?, ?)",
    );
    const insert = this.#insertRow;
    let { from, to } = source;
    let seq = source.rows;
    transaction(this.#db, () => {
      for (const row of rows) {
        check(row, seq);
        const at = row[timeField] as number | null;
        if (at !== null) {
          if (from === null || at < from) from = at;
          if (to === null || at > to) to = at;
        }
        insert.run(id, seq, at, JSON.stringify(row));
        seq++;
      }
      this.#db.prepare("UPDATE sources SET rows = ?, from_ms = ?, to_ms = ? WHERE id = ?").run(
        seq,
        from,
        to,
        id,
      );
    });
    return { ...source, rows: seq, from, to };
  }

  /** Every complete import, newest first. */
  list(): SourceRecord[] {
    const rows = this.#db.prepare(
      "SELECT * FROM sources WHERE complete = 1 ORDER BY imported_at DESC, id",
    ).all() as unknown as SourceRowRecord[];
    return rows.map(toSourceRecord);
  }

  /** A complete import; throws `NotFoundError` for any other id. */
  get(id: string): SourceRecord {
    const row = this.#db.prepare("SELECT * FROM sources WHERE id = ? AND complete = 1").get(id) as
      | SourceRowRecord
      | undefined;
    if (!row) {
      throw new NotFoundError(`No source "${id.slice(0, 80)}" on this node`, {
        details: { id: id.slice(0, 80) },
      });
    }
    return toSourceRecord(row);
  }

  /** Whether any complete import of `kind` has rows. */
  hasRows(kind: SourceKind): boolean {
    return this.#db.prepare("SELECT 1 FROM sources WHERE kind = ? AND complete = 1 AND rows > 0 LIMIT 1")
      .get(kind) !== undefined;
  }

  /** The rows of a complete import in time order (undated rows first), read from SQLite as iterated. */
  rows(id: string): Iterable<SourceRow> {
    this.get(id);
    return this.rowsOf([id]);
  }

  /** The ids of the complete imports of `kind`, oldest first. */
  idsOfKind(kind: SourceKind): string[] {
    const rows = this.#db.prepare(
      "SELECT id FROM sources WHERE kind = ? AND complete = 1 ORDER BY imported_at, id",
    ).all(kind) as { id: string }[];
    return rows.map((r) => r.id);
  }

  /**
   * The rows of the imports `ids`, one after the other, each in time order, read as iterated
   * (again on each iteration); an import deleted meanwhile has none.
   */
  rowsOf(ids: readonly string[]): Iterable<SourceRow> {
    const db = this.#db;
    return {
      *[Symbol.iterator]() {
        const statement = db.prepare("SELECT data FROM source_rows WHERE source_id = ? ORDER BY at, seq");
        for (const id of ids) {
          for (const row of statement.iterate(id)) {
            yield JSON.parse((row as { data: string }).data) as SourceRow;
          }
        }
      },
    };
  }

  /** The rows of every complete import of `kind` at the time of each iteration (see {@link rowsOf}). */
  rowsOfKind(kind: SourceKind): Iterable<SourceRow> {
    const store = { ids: () => this.idsOfKind(kind), rows: (ids: string[]) => this.rowsOf(ids) };
    return {
      *[Symbol.iterator]() {
        yield* store.rows(store.ids());
      },
    };
  }

  /** Removes a complete import and its rows; throws `NotFoundError` for an unknown id. */
  delete(id: string): void {
    this.get(id);
    this.#db.prepare("DELETE FROM sources WHERE id = ?").run(id);
    this.#removeRows(id, { andSource: false });
  }

  addPublication(record: PublicationRecord): void {
    this.#db.prepare(
      `INSERT INTO publications (id, manifest_cid, title, purpose, kinds, excluded, consent_ids, rows, privacy,
        ownership_token_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.id,
      record.manifestCid,
      record.title,
      record.purpose,
      JSON.stringify(record.kinds),
      JSON.stringify(record.excluded),
      JSON.stringify(record.consentIds),
      record.rows,
      JSON.stringify(record.privacy),
      record.ownershipTokenId,
      record.createdAt,
    );
  }

  /** Every publication, newest first. */
  listPublications(): PublicationRecord[] {
    const rows = this.#db.prepare("SELECT * FROM publications ORDER BY created_at DESC, id")
      .all() as unknown as PublicationRowRecord[];
    return rows.map((r) => ({
      id: r.id,
      manifestCid: r.manifest_cid,
      title: r.title,
      purpose: r.purpose,
      kinds: JSON.parse(r.kinds),
      excluded: JSON.parse(r.excluded),
      consentIds: JSON.parse(r.consent_ids),
      rows: r.rows,
      privacy: JSON.parse(r.privacy),
      ownershipTokenId: r.ownership_token_id,
      createdAt: r.created_at,
    }));
  }

  /** Deletes a source's rows a step at a time (each its own transaction), then the source row if asked. */
  #removeRows(id: string, options: { andSource: boolean }): void {
    const db = this.#db;
    const last = db.prepare("SELECT MAX(seq) AS n FROM source_rows WHERE source_id = ?").get(id) as {
      n: number | null;
    };
    const remove = db.prepare("DELETE FROM source_rows WHERE source_id = ? AND seq >= ? AND seq < ?");
    for (let start = 0; last.n !== null && start <= last.n; start += DELETE_STEP) {
      remove.run(id, start, start + DELETE_STEP);
    }
    if (options.andSource) db.prepare("DELETE FROM sources WHERE id = ?").run(id);
  }
}

function toSourceRecord(r: SourceRowRecord): SourceRecord {
  return {
    id: r.id,
    kind: r.kind as SourceKind,
    filename: r.filename,
    rows: r.rows,
    importedAt: r.imported_at,
    from: r.from_ms,
    to: r.to_ms,
    ...(r.mapping ? { mapping: JSON.parse(r.mapping) as BankMapping } : {}),
  };
}

/**
 * Checks a row of `kind` (exactly its fields, each of its type or `null`, as `sourceRowProblem`
 * says, and text no longer than {@link MAX_TEXT_LENGTH}); throws an {@link ImportError} naming the
 * file, the row and the field.
 */
export function rowChecker(kind: SourceKind, filename: string): (row: SourceRow, seq: number) => void {
  if (!(SOURCE_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(`Unknown source kind "${kind}"`);
  }
  const texts = SOURCE_KIND_INFO[kind].fields.filter((f) => f.type === "text" || f.type === "category")
    .map((f) => f.name);
  return (row, seq) => {
    const problem = sourceRowProblem(kind, row) ??
      texts.find((name) => ((row[name] as string | null)?.length ?? 0) > MAX_TEXT_LENGTH)?.concat(
        ` is longer than ${MAX_TEXT_LENGTH} characters`,
      );
    if (problem) throw new ImportError(filename, `row ${seq + 1}`, problem);
  };
}

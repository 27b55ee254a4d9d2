/**
 * What the importers' tests share: run one on a fixture file of `tests/fixtures/sources/` (or on
 * bytes), check every row against its kind, and catch the error a bad file gets.
 */
import assert from "node:assert/strict";
import type { BankMapping, SourceKind, SourceRow } from "../../../../protocol/sources.ts";
import { IMPORTERS } from "./mod.ts";
import { validateSourceRow } from "./rows.ts";
import { ImportError, MAX_BATCH } from "./types.ts";

/** The folder of the source fixtures. */
export const FIXTURES = new URL("../../../../tests/fixtures/sources/", import.meta.url);

/** A stream of `bytes` in pieces of `size` bytes (to cross every boundary a reader may trip on). */
export function streamOf(bytes: Uint8Array | string, size = 64 * 1024): ReadableStream<Uint8Array> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.length) return controller.close();
      controller.enqueue(data.slice(at, at + size));
      at += size;
    },
  });
}

/** All rows of one import, each checked to be exactly a row of `kind`, batches checked to be ≤ MAX_BATCH. */
export async function importRows(
  kind: SourceKind,
  input: ReadableStream<Uint8Array>,
  filename: string,
  mapping?: BankMapping,
): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const batch of IMPORTERS[kind].parse(input, { filename, mapping })) {
    assert.ok(batch.length > 0 && batch.length <= MAX_BATCH, `batch of ${batch.length}`);
    for (const row of batch) rows.push(validateSourceRow(kind, row));
  }
  return rows;
}

/** All rows of a fixture file (`"netflix/ViewingActivity.csv"`). */
export async function importFixture(
  kind: SourceKind,
  path: string,
  mapping?: BankMapping,
): Promise<SourceRow[]> {
  const file = await Deno.open(new URL(path, FIXTURES));
  return importRows(kind, file.readable, path.split("/").pop()!, mapping);
}

/** The ImportError an import of a fixture file fails with (fails the test when it does not). */
export async function importFailure(
  kind: SourceKind,
  path: string,
  mapping?: BankMapping,
): Promise<ImportError> {
  try {
    await importFixture(kind, path, mapping);
  } catch (err) {
    assert.ok(err instanceof ImportError, `expected an ImportError, got ${err}`);
    return err;
  }
  assert.fail(`${path} imported without an error`);
}

/**
 * What every importer is: a streaming parser of one service's export file into batches of
 * normalized rows (the fields of its kind in `protocol/sources.ts`, nothing else), and the one error
 * a bad file gets, naming the file and the line or record.
 */
import { KosmosError } from "../../../errors.ts";
import type { BankMapping, SourceKind, SourceRow } from "../../../../protocol/sources.ts";

export interface ImportContext {
  /** The file's name as the person gave it; every error names it. */
  filename: string;
  /** Bank statements: the confirmed column mapping (detected when absent). */
  mapping?: BankMapping;
  signal?: AbortSignal;
}

export interface Importer {
  kind: SourceKind;
  /**
   * Parses one export file, streaming: memory stays bounded whatever the file's size. Yields batches
   * of at most {@link MAX_BATCH} rows. Throws {@link ImportError} on the first bad line or record.
   */
  parse(input: ReadableStream<Uint8Array>, context: ImportContext): AsyncIterable<SourceRow[]>;
}

/** Most rows an importer yields at once. */
export const MAX_BATCH = 1000;

/** A file that is not a valid export of its kind: `ViewingActivity.csv line 12: Start Time "x" is not a date`. */
export class ImportError extends KosmosError {
  override name = "ImportError";
  constructor(readonly filename: string, readonly location: string, detail: string) {
    super(`${filename}${location ? ` ${location}` : ""}: ${detail}`);
  }
}

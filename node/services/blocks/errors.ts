/** Domain failures of the blocks service; callers match on `err.name`. */
import { KosmosError } from "../../errors.ts";

/** A stored block no longer hashes to its CID; the file has been removed. */
export class CorruptBlockError extends KosmosError {
  override name = "CorruptBlockError";
}

/** A chunk did not authenticate under the key it was opened with (wrong key, index or bytes). */
export class ChunkDecryptError extends KosmosError {
  override name = "ChunkDecryptError";
}

/** The plaintext is not the CSV, NDJSON or JSON array it claims or appears to be. */
export class DatasetFormatError extends KosmosError {
  override name = "DatasetFormatError";
}

/** Fetched data disagrees with its manifest: a chunk CID, a length, the Merkle root or the key commitment. */
export class DatasetIntegrityError extends KosmosError {
  override name = "DatasetIntegrityError";
}

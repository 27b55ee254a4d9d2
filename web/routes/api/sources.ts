/**
 * The contributor's sources and publications:
 *
 * - `POST /api/v1/sources/:kind/imports` — imports one export file from a `multipart/form-data`
 *   upload: the `file` part, and for a bank statement an optional `mapping` text field (JSON of
 *   the confirmed columns), in any order. Answers `201 { id, kind, rows, mapping? }` once every
 *   row is committed. `404` for an unknown kind (naming the kinds), `422` (`import_error`) for a
 *   file that is not a valid export, naming the file and the line or record; `400`/`413`/`415`
 *   for a bad upload. The file streams into the import; a bank statement whose mapping may still
 *   follow is parked on disk (`upload_spool.ts`) until the mapping is read. On any failure the
 *   node keeps nothing.
 * - `POST /api/v1/sources/bank/layout` — the detected columns of a bank statement (`file` part;
 *   only its first 64 KiB are read).
 * - `GET /api/v1/sources` — the kinds and the imports. `GET /api/v1/sources/:id/preview?k=5` —
 *   what would leave the node after anonymization. `DELETE /api/v1/sources/:id` → `204`.
 * - `POST /api/v1/publications` (`?preview=1`: the ownership record's fee, nothing signed) →
 *   `201`; `409` when no kind asked for has a valid consent and rows. `GET /api/v1/publications`.
 *
 *     curl -F file=@ViewingActivity.csv http://127.0.0.1:7464/api/v1/sources/netflix/imports
 */
import { Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { BankMappingText, PublicationBody, SourcePreviewParams } from "../../../protocol/api/sources.ts";
import { type BankMapping, SOURCE_KINDS, type SourceKind } from "../../../protocol/sources.ts";
import { DEFAULT_CHUNK_SIZE, MAX_CHUNKS } from "../../../protocol/manifest.ts";
import { type ErrorPolicy, HttpError } from "../../http_error.ts";
import { type MultipartPart, readMultipart, readPartText } from "../../multipart.ts";
import { openUpload, tooLarge } from "../../upload_request.ts";
import { defineRoute } from "../../router.ts";
import { type SpooledUpload, spoolUpload } from "../../upload_spool.ts";
import { readBody, validate } from "../../validate.ts";
import { wantsPreview } from "./preview.ts";

export interface SourceRoutesOptions {
  /** Largest export file accepted, in bytes. @default 64 GiB */
  maxBytes?: number;
  /** Where a bank statement sent before its mapping waits for it. @default the OS temp dir */
  spoolDir?: string;
}

/** Largest `mapping` field, in bytes. */
const MAX_MAPPING_BYTES = 8 * 1024;
const errors: ErrorPolicy = { badInput: 422, reverts: "conflict" };

export function createSourceRoutes(facade: KosmosApi, options: SourceRoutesOptions = {}): Hono {
  const maxBytes = options.maxBytes ?? MAX_CHUNKS * DEFAULT_CHUNK_SIZE;
  const api = new Hono();

  defineRoute(api, "/sources", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.listSources({ signal: c.req.raw.signal }));
    },
  }, { errors });

  defineRoute(api, "/sources/:kind/imports", {
    POST: async (c) => {
      const kind = c.req.param("kind") ?? "";
      if (!(SOURCE_KINDS as readonly string[]).includes(kind)) {
        throw new HttpError(
          404,
          "not_found",
          `No source kind "${kind.slice(0, 40)}"; the kinds are ${SOURCE_KINDS.join(", ")}`,
        );
      }
      const body = openUpload(c.req.raw, maxBytes);
      const signal = c.req.raw.signal;
      let mapping: BankMapping | undefined;
      let spooled: (SpooledUpload & { filename: string }) | undefined;
      const created = (result: Awaited<ReturnType<KosmosApi["importSource"]>>) => {
        c.header("Location", `/api/v1/sources/${result.id}`);
        return c.json(result, 201);
      };
      try {
        for await (const part of readMultipart(body.stream, body.boundary)) {
          if (part.name === "mapping") {
            if (kind !== "bank") {
              throw new HttpError(
                422,
                "unprocessable",
                `A column mapping is only for bank statements, not ${kind}`,
              );
            }
            if (mapping) throw new HttpError(422, "unprocessable", 'Field "mapping" is given twice');
            mapping = await readMapping(part);
            continue;
          }
          checkFilePart(part, spooled !== undefined, ["file", ...(kind === "bank" ? ["mapping"] : [])]);
          const filename = part.filename || "upload";
          if (kind !== "bank" || mapping) {
            // Nothing else may come: stream the file straight into the import.
            const stream = limit(part, maxBytes, true);
            return created(
              await facade.importSource(kind as SourceKind, { stream, filename }, { mapping, signal }),
            );
          }
          // A bank statement's mapping may follow: park the file until the end of the upload.
          spooled = {
            ...await spoolUpload(part.body, {
              dir: options.spoolDir,
              maxBytes,
              tooLarge: () => tooLarge(maxBytes),
              signal,
            }),
            filename,
          };
        }
        if (!spooled) {
          throw new HttpError(400, "bad_request", 'The upload has no part named "file" with the export');
        }
        const stream = await spooled.readable();
        return created(
          await facade.importSource("bank", { stream, filename: spooled.filename }, { mapping, signal }),
        );
      } finally {
        await spooled?.[Symbol.asyncDispose]();
      }
    },
  }, { errors });

  defineRoute(api, "/sources/bank/layout", {
    POST: async (c) => {
      const body = openUpload(c.req.raw, maxBytes);
      for await (const part of readMultipart(body.stream, body.boundary)) {
        checkFilePart(part, false, ["file"]);
        return c.json(
          await facade.detectBankLayout(limit(part, maxBytes, false), {
            filename: part.filename,
            signal: c.req.raw.signal,
          }),
        );
      }
      throw new HttpError(400, "bad_request", 'The upload has no part named "file" with the statement');
    },
  }, { errors });

  defineRoute(api, "/sources/:id/preview", {
    GET: async (c) => {
      const { k } = validate(SourcePreviewParams, new URL(c.req.url).searchParams, { status: 400 });
      c.header("Cache-Control", "no-store");
      return c.json(await facade.previewSource(c.req.param("id") ?? "", { k, signal: c.req.raw.signal }));
    },
  }, { errors: { badInput: 400 } });

  defineRoute(api, "/sources/:id", {
    DELETE: async (c) => {
      await facade.deleteSource(c.req.param("id") ?? "", { signal: c.req.raw.signal });
      return c.body(null, 204);
    },
  }, { errors });

  defineRoute(api, "/publications", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.listPublications({ signal: c.req.raw.signal }));
    },
    POST: async (c) => {
      const preview = wantsPreview(c);
      const fields = await readBody(c, PublicationBody, { maxBytes: 16 * 1024 });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewPublication(fields, { signal }));
      const publication = await facade.createPublication(fields, { signal });
      c.header("Location", `/api/v1/listings/${publication.manifestCid}`);
      return c.json(publication, 201);
    },
  }, { errors });

  return api;
}

function checkFilePart(part: MultipartPart, seen: boolean, fields: string[]): void {
  if (part.name !== "file") {
    throw new HttpError(
      422,
      "unprocessable",
      `Unknown field "${part.name.slice(0, 64)}"; the fields are ${fields.join(" and ")}`,
    );
  }
  if (part.filename === undefined) {
    throw new HttpError(422, "unprocessable", 'The "file" part must be a file upload, not a text field');
  }
  if (seen) throw new HttpError(422, "unprocessable", 'The upload has more than one "file" part');
}

async function readMapping(part: MultipartPart): Promise<BankMapping> {
  if (part.filename !== undefined) {
    throw new HttpError(422, "unprocessable", 'Field "mapping" must be text, not a file');
  }
  let text: string;
  try {
    text = await readPartText(part, { maxBytes: MAX_MAPPING_BYTES });
  } catch (err) {
    if (err instanceof RangeError) {
      throw new HttpError(
        413,
        "payload_too_large",
        `Field "mapping" is larger than ${MAX_MAPPING_BYTES} bytes`,
      );
    }
    throw err;
  }
  return validate(BankMappingText, text, { prefix: "Invalid mapping: " });
}

/** The file part's bytes, refused past `maxBytes` and, when `last`, when another part follows. */
function limit(part: MultipartPart, maxBytes: number, last: boolean): ReadableStream<Uint8Array> {
  let size = 0;
  return part.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > maxBytes) throw tooLarge(maxBytes);
        controller.enqueue(chunk);
      },
      flush() {
        if (last && !part.last) {
          throw new HttpError(400, "bad_request", 'Nothing may follow the "file" part');
        }
      },
    }),
  );
}

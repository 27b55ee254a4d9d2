/**
 * `POST /api/v1/datasets` — publishes a dataset from a `multipart/form-data`
 * upload: text fields `title`, `description` (optional), `category`, `price`
 * (a token amount such as `2.5`, up to 18 decimals), `license`, `gateway`
 * (optional address), and the `file` part, in any order. Answers
 * `201 { id, manifestCid }`.
 *
 * The body streams, never held in memory. When every field (the optional
 * ones may be empty) comes before the file, the file part is piped into the
 * node's block pipeline as it arrives, every field checked before its first
 * byte is stored. Otherwise the file is written to a temporary file in the
 * node's data dir (`upload_spool.ts`) while it arrives (the fields already
 * read are checked first), the fields after it are read and checked, and the
 * dataset is published from the copy, which is then removed. On any failure
 * the node keeps nothing.
 *
 *     curl -F title='Taxi trips' -F category=mobility -F price=2.5 \
 *          -F license=CC-BY-4.0 -F file=@trips.csv http://127.0.0.1:7464/api/v1/datasets
 */
import { Hono } from "hono";
import { DATASET_FIELDS, type DatasetFieldName, PublishFields } from "../../../protocol/api/datasets.ts";
import type { KosmosApi, PublishDatasetFields } from "../../../protocol/api/mod.ts";
import { type ErrorPolicy, HttpError } from "../../http_error.ts";
import { type MultipartPart, readMultipart, readPartText } from "../../multipart.ts";
import { openUpload, tooLarge } from "../../upload_request.ts";
import { defineRoute } from "../../router.ts";
import { validate } from "../../validate.ts";
import { type SpooledUpload, spoolUpload } from "../../upload_spool.ts";
import { DEFAULT_CHUNK_SIZE, MAX_CHUNKS } from "../../../protocol/manifest.ts";

export interface DatasetRoutesOptions {
  /** Largest file accepted, in bytes. @default 64 GiB (the manifest's chunk limit) */
  maxBytes?: number;
  /** Largest text field, in bytes. @default 16 KiB */
  maxFieldBytes?: number;
  /** Where a file sent before some fields waits for them. @default the OS temp dir */
  spoolDir?: string;
}

/** Valid stand-ins for required fields not read yet, to check the ones that were. */
const STAND_INS: Partial<Record<FieldName, string>> = {
  title: "-",
  category: "other",
  price: "0",
  license: "-",
};

type FieldName = DatasetFieldName;

/** Bad input is a 422; the pipeline's "Cannot prepare dataset: " reads as the file's fault. */
const errors: ErrorPolicy = {
  badInput: 422,
  rewrite: [/^Cannot prepare dataset: /, "The file cannot be published: "],
};

export function createDatasetRoutes(facade: KosmosApi, options: DatasetRoutesOptions = {}): Hono {
  const maxBytes = options.maxBytes ?? MAX_CHUNKS * DEFAULT_CHUNK_SIZE;
  const maxFieldBytes = options.maxFieldBytes ?? 16 * 1024;
  const api = new Hono();
  defineRoute(api, "/datasets", {
    POST: async (c) => {
      const request = c.req.raw;
      const { stream: body, boundary } = openUpload(request, maxBytes);

      const fields: Partial<Record<FieldName, string>> = {};
      let spooled: (SpooledUpload & { filename?: string; contentType?: string }) | undefined;
      try {
        for await (const part of readMultipart(body, boundary)) {
          if (part.name !== "file") {
            await readField(part, fields, maxFieldBytes);
            continue;
          }
          if (part.filename === undefined) {
            throw new HttpError(
              422,
              "unprocessable",
              'The "file" part must be a file upload, not a text field',
            );
          }
          if (spooled) throw new HttpError(422, "unprocessable", 'The upload has more than one "file" part');
          const meta = { filename: part.filename || undefined, contentType: part.contentType };
          if (DATASET_FIELDS.every((name) => fields[name] !== undefined)) {
            // Every field came first: stream the file straight into the pipeline.
            const result = await publish(facade, part, { ...checkFields(fields), ...meta }, {
              maxBytes,
              signal: request.signal,
            });
            c.header("Location", `/api/v1/listings/${result.id}`);
            return c.json({ id: result.id, manifestCid: result.manifestCid }, 201);
          }
          // Fields may follow: refuse bad ones already read before storing a byte, then park the file.
          checkFields({ ...STAND_INS, ...fields });
          spooled = {
            ...await spoolUpload(part.body, {
              dir: options.spoolDir,
              maxBytes,
              tooLarge: () => tooLarge(maxBytes),
              signal: request.signal,
            }),
            ...meta,
          };
        }
        if (!spooled) {
          throw new HttpError(400, "bad_request", 'The upload has no part named "file" with the dataset');
        }
        const checked = checkFields(fields);
        const result = await facade.publishDataset(await spooled.readable(), {
          ...checked,
          filename: spooled.filename,
          contentType: spooled.contentType,
        }, { signal: request.signal });
        c.header("Location", `/api/v1/listings/${result.id}`);
        return c.json({ id: result.id, manifestCid: result.manifestCid }, 201);
      } finally {
        await spooled?.[Symbol.asyncDispose]();
      }
    },
  }, { errors });
  return api;
}

async function readField(
  part: MultipartPart,
  fields: Partial<Record<FieldName, string>>,
  maxFieldBytes: number,
): Promise<void> {
  const name = part.name as FieldName;
  if (!DATASET_FIELDS.includes(name)) {
    throw new HttpError(
      422,
      "unprocessable",
      `Unknown field "${part.name.slice(0, 64)}"; the fields are ${DATASET_FIELDS.join(", ")} and file`,
    );
  }
  if (part.filename !== undefined) {
    throw new HttpError(422, "unprocessable", `Field "${name}" must be text, not a file`);
  }
  if (fields[name] !== undefined) throw new HttpError(422, "unprocessable", `Field "${name}" is given twice`);
  try {
    fields[name] = await readPartText(part, { maxBytes: maxFieldBytes });
  } catch (err) {
    if (err instanceof RangeError) {
      throw new HttpError(413, "payload_too_large", `Field "${name}" is larger than ${maxFieldBytes} bytes`);
    }
    throw err;
  }
}

/**
 * Validates the text fields; throws one 422 naming every problem, and
 * `whenMissing` after them when a required field is missing.
 */
export function checkFields(
  fields: Partial<Record<FieldName, string>>,
  options: { whenMissing?: string } = {},
): Omit<PublishDatasetFields, "filename" | "contentType"> {
  return validate(PublishFields, fields, {
    all: true,
    prefix: "Invalid upload: ",
    suffix: options.whenMissing ? ` (${options.whenMissing})` : undefined,
  });
}

/** Pipes the file part into the facade, enforcing the size limit and that nothing follows the file. */
function publish(
  facade: KosmosApi,
  part: MultipartPart,
  fields: PublishDatasetFields,
  options: { maxBytes: number; signal: AbortSignal },
) {
  let size = 0;
  const checked = part.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > options.maxBytes) throw tooLarge(options.maxBytes);
        controller.enqueue(chunk);
      },
      flush() {
        if (!part.last) {
          // Every field came before the file, so whatever follows it is a mistake.
          throw new HttpError(
            400,
            "bad_request",
            'Nothing may follow the "file" part when every field came before it',
          );
        }
      },
    }),
  );
  return facade.publishDataset(checked, fields, { signal: options.signal });
}

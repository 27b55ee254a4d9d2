/**
 * `POST /api/v1/datasets` — publishes a dataset from a `multipart/form-data`
 * upload: text fields `title`, `description` (optional), `category`, `price`
 * (a token amount such as `2.5`, up to 18 decimals), `license`, `gateway`
 * (optional address), then the `file` part last. Answers
 * `201 { id, manifestCid }`.
 *
 * The body streams: the file part is piped into the node's block pipeline
 * as it arrives, never held in memory. Every field is checked before the
 * first file byte is stored (so fields must precede the file); on any
 * failure the node keeps nothing.
 *
 *     curl -F title='Taxi trips' -F category=mobility -F price=2.5 \
 *          -F license=CC-BY-4.0 -F file=@trips.csv http://127.0.0.1:7464/api/v1/datasets
 */
import { Hono } from "hono";
import { DATASET_FIELDS, type DatasetFieldName, PublishFields } from "../../../protocol/api/datasets.ts";
import type { KosmosApi, PublishDatasetFields } from "../../../protocol/api/mod.ts";
import { type ErrorPolicy, HttpError } from "../../http_error.ts";
import { getBoundary, type MultipartPart, readMultipart, readPartText } from "../../multipart.ts";
import { defineRoute } from "../../router.ts";
import { validate } from "../../validate.ts";
import { DEFAULT_CHUNK_SIZE, MAX_CHUNKS } from "../../../protocol/manifest.ts";

export interface DatasetRoutesOptions {
  /** Largest file accepted, in bytes. @default 64 GiB (the manifest's chunk limit) */
  maxBytes?: number;
  /** Largest text field, in bytes. @default 16 KiB */
  maxFieldBytes?: number;
}

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
      const type = request.headers.get("content-type");
      let boundary: string | undefined;
      try {
        boundary = getBoundary(type);
      } catch (err) {
        throw new HttpError(400, "bad_request", (err as Error).message);
      }
      if (!boundary) {
        throw new HttpError(
          415,
          "unsupported_media_type",
          `Expected a multipart/form-data upload with the file in a part named "file", got ${
            type ? `"${type.slice(0, 100)}"` : "no Content-Type"
          }`,
        );
      }
      const declared = Number(request.headers.get("content-length") ?? NaN);
      if (declared > maxBytes + 64 * 1024) throw tooLarge(maxBytes);
      if (!request.body) throw new HttpError(400, "bad_request", "The upload is empty");

      const fields: Partial<Record<FieldName, string>> = {};
      for await (const part of readMultipart(request.body, boundary)) {
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
        // Only the parts before the file have been read: a field sent after it looks missing.
        const checked = checkFields(fields, {
          whenMissing: "fields sent after the file part are not read: send them first",
        });
        const result = await publish(facade, part, {
          ...checked,
          filename: part.filename || undefined,
          contentType: part.contentType,
        }, { maxBytes, signal: request.signal });
        c.header("Location", `/api/v1/listings/${result.id}`);
        return c.json({ id: result.id, manifestCid: result.manifestCid }, 201);
      }
      throw new HttpError(400, "bad_request", 'The upload has no part named "file" with the dataset');
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

/** Pipes the file part into the facade, enforcing the size limit and that the file is the last part. */
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
          throw new HttpError(
            400,
            "bad_request",
            'The "file" part must be the last part of the upload, after every text field',
          );
        }
      },
    }),
  );
  return facade.publishDataset(checked, fields, { signal: options.signal });
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    413,
    "payload_too_large",
    `The file is larger than the ${maxBytes} bytes this node accepts`,
  );
}

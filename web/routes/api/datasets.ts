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
import type { KosmosFacade, PublishDatasetFields } from "../../facade.ts";
import { HttpError } from "../../http_error.ts";
import {
  getBoundary,
  MultipartError,
  type MultipartPart,
  readMultipart,
  readPartText,
} from "../../multipart.ts";
import { defineRoute } from "../../router.ts";
import { toAddress } from "../../../protocol/ids.ts";
import {
  CATEGORIES,
  DEFAULT_CHUNK_SIZE,
  MAX_CHUNKS,
  MAX_DESCRIPTION_LENGTH,
  MAX_LICENCE_ID_LENGTH,
  MAX_TITLE_LENGTH,
  MAX_UINT256,
} from "../../../protocol/manifest.ts";

export interface DatasetRoutesOptions {
  /** Largest file accepted, in bytes. @default 64 GiB (the manifest's chunk limit) */
  maxBytes?: number;
  /** Largest text field, in bytes. @default 16 KiB */
  maxFieldBytes?: number;
}

/** The text fields of the upload form. */
export const DATASET_FIELDS = ["title", "description", "category", "price", "license", "gateway"] as const;
type FieldName = typeof DATASET_FIELDS[number];

/** Decimals of the token in which prices are given. */
export const TOKEN_DECIMALS = 18;

export function createDatasetRoutes(facade: KosmosFacade, options: DatasetRoutesOptions = {}): Hono {
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
      try {
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
      } catch (err) {
        throw toUploadError(err);
      }
      throw new HttpError(400, "bad_request", 'The upload has no part named "file" with the dataset');
    },
  });
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
  const problems: string[] = [];
  let missing = false;
  const text = (name: FieldName, max: number, required: boolean): string | undefined => {
    const value = fields[name]?.trim();
    if (!value) {
      if (required) {
        problems.push(`${name} is required`);
        missing = true;
      }
      return undefined;
    }
    // deno-lint-ignore no-control-regex
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) {
      problems.push(`${name} must not contain control characters`);
    } else if (value.length > max) {
      problems.push(`${name} must be at most ${max} characters (got ${value.length})`);
    }
    return value;
  };
  const title = text("title", MAX_TITLE_LENGTH, true);
  if (title && /[\r\n\t]/.test(title)) problems.push("title must be one line");
  const description = text("description", MAX_DESCRIPTION_LENGTH, false);
  const category = text("category", 64, true);
  if (category && !(CATEGORIES as readonly string[]).includes(category)) {
    problems.push(`category must be one of ${CATEGORIES.join(", ")}`);
  }
  const license = text("license", MAX_LICENCE_ID_LENGTH, true);
  if (license && /\s/.test(license)) {
    problems.push("license must be a licence id without spaces, e.g. CC-BY-4.0");
  }
  const priceText = text("price", 100, true);
  let price: string | undefined;
  if (priceText) {
    price = parseTokenAmount(priceText);
    if (price === undefined) {
      problems.push(`price must be a token amount such as 2.5, with at most ${TOKEN_DECIMALS} decimals`);
    }
  }
  const gatewayText = text("gateway", 42, false);
  let gateway: string | undefined;
  if (gatewayText) {
    try {
      gateway = toAddress(gatewayText);
    } catch {
      problems.push("gateway must be an EVM address (0x and 40 hex digits)");
    }
  }
  if (problems.length > 0) {
    const hint = missing && options.whenMissing ? ` (${options.whenMissing})` : "";
    throw new HttpError(422, "unprocessable", `Invalid upload: ${problems.join("; ")}${hint}`);
  }
  return {
    title: title!,
    description: description ?? "",
    category: category!,
    price: price!,
    license: license!,
    gateway,
  };
}

/** A decimal token amount (`"2.5"`) in base units (`"2500000000000000000"`), or undefined when invalid. */
export function parseTokenAmount(text: string): string | undefined {
  const match = /^(\d{1,60})(?:\.(\d{1,18}))?$/.exec(text);
  if (!match) return undefined;
  const units = BigInt(match[1]) * 10n ** BigInt(TOKEN_DECIMALS) +
    BigInt((match[2] ?? "").padEnd(TOKEN_DECIMALS, "0"));
  return units > MAX_UINT256 ? undefined : units.toString();
}

/** Pipes the file part into the facade, enforcing the size limit and that the file is the last part. */
function publish(
  facade: KosmosFacade,
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

function toUploadError(err: unknown): unknown {
  if (err instanceof HttpError) return err;
  const { name, message } = err as Error;
  if (err instanceof MultipartError || name === "MultipartError") {
    return new HttpError(400, "bad_request", `Malformed upload: ${message}`);
  }
  if (name === "DatasetFormatError" || name === "TypeError" || name === "RangeError") {
    return new HttpError(
      422,
      "unprocessable",
      message.replace(/^Cannot prepare dataset: /, "The file cannot be published: "),
    );
  }
  return err;
}

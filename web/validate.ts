/**
 * The one typed validator of the API: every route checks its body, query or path
 * parameters with a schema (`protocol/api/`) through `validate` or `readBody`, and a
 * failure is an `HttpError` carrying the schema's message.
 *
 * ```ts
 * const { manifestCid } = await readBody(c, FetchBody, { maxBytes: 4096 });   // 422 on a bad body
 * const query = validate(ListingsParams, Object.fromEntries(params), { status: 400 });
 * ```
 */
import type { Context } from "hono";
import * as v from "valibot";
import { getCodeForStatus, HttpError } from "./http_error.ts";
import { readJson } from "./read_json.ts";

export interface ValidateOptions {
  /** @default 422; 400 for query strings, 404 for ids in paths */
  status?: 400 | 404 | 422;
  /** Headers of the error response, e.g. the `X-Kosmos-Dropped` header of `/api/event`. */
  headers?: Record<string, string>;
  /** Put before the message, e.g. `"Invalid upload: "`. */
  prefix?: string;
  /** Name every problem, joined with "; ", instead of the first one. @default false */
  all?: boolean;
  /** Added after the message when a required field is missing (an issue with `expected: "required"`). */
  suffix?: string;
}

/** The schema's output for `value`; throws an `HttpError` with the schema's message otherwise. */
export function validate<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  options: ValidateOptions = {},
): v.InferOutput<S> {
  const all = options.all ?? false;
  const result = v.safeParse(schema, value, { abortEarly: !all, abortPipeEarly: !all });
  if (result.success) return result.output;
  const issues = result.issues;
  const message = all ? issues.map((issue) => issue.message).join("; ") : issues[0].message;
  const missing = options.suffix !== undefined && issues.some((issue) => issue.expected === "required");
  const status = options.status ?? 422;
  throw new HttpError(
    status,
    getCodeForStatus(status),
    `${options.prefix ?? ""}${message}${missing ? options.suffix : ""}`,
    { headers: options.headers && { ...options.headers } },
  );
}

/**
 * Reads a JSON body (415, 413 and 400 as `readJson` says) and validates it (422 unless
 * `status` says otherwise).
 */
export async function readBody<S extends v.GenericSchema>(
  c: Context,
  schema: S,
  options: ValidateOptions & { maxBytes: number },
): Promise<v.InferOutput<S>> {
  return validate(schema, await readJson(c.req.raw, { maxBytes: options.maxBytes }), options);
}

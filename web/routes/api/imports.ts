/**
 * Analytics imports of this node's sites (owner token):
 *
 * - `POST /api/v1/sites/:domain/imports` — a `multipart/form-data` upload with the export in a
 *   part named `file`: a Plausible CSV export (its zip, or one `imported_*_YYYYMMDD_YYYYMMDD.csv`)
 *   or a GA4 BigQuery export (newline-delimited JSON, or a zip of it). `201` with what was
 *   imported; `422 import_error` for a file it cannot read (nothing changes), `413` over 200 MB,
 *   `404` for a site this node does not own.
 * - `GET /api/v1/sites/:domain/imports` — what each source imported.
 * - `DELETE /api/v1/sites/:domain/imports?source=ga4` — drops one source's history (or all);
 *   `POST /api/v1/sites/:domain/imports/:source/delete` is the same for a form.
 *
 * From a browser's form (it accepts HTML), the answer is a `303` back to the site's history page
 * (`/sites/:domain/history`) with `?saved=` or `?error=`.
 */
import { type Context, Hono } from "hono";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { type ErrorPolicy, HttpError } from "../../http_error.ts";
import { readMultipart } from "../../multipart.ts";
import { openUpload, tooLarge } from "../../upload_request.ts";
import { defineRoute } from "../../router.ts";

/** Largest export accepted, in bytes (the node holds it in memory while it reads it). */
export const MAX_IMPORT_UPLOAD_BYTES = 200 * 1024 * 1024;
const errors: ErrorPolicy = { badInput: 422 };

export function createImportRoutes(facade: KosmosApi, options: { maxBytes?: number } = {}): Hono {
  const maxBytes = options.maxBytes ?? MAX_IMPORT_UPLOAD_BYTES;
  const api = new Hono();
  defineRoute(api, "/sites/:domain/imports", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(
        await facade.listAnalyticsImports(c.req.param("domain") ?? "", { signal: c.req.raw.signal }),
      );
    },
    POST: (c) =>
      formAction(c, async () => {
        const domain = c.req.param("domain") ?? "";
        const body = openUpload(c.req.raw, maxBytes);
        for await (const part of readMultipart(body.stream, body.boundary)) {
          if (part.name !== "file" || part.filename === undefined) {
            throw new HttpError(422, "unprocessable", 'Expected the export as a file in a part named "file"');
          }
          const bytes = await readAll(part.body, maxBytes);
          const result = await facade.importAnalytics(domain, { name: part.filename || "upload", bytes }, {
            signal: c.req.raw.signal,
          });
          return {
            json: c.json(result, 201),
            saved:
              `Imported ${result.days} days (${result.from} … ${result.to}) from ${result.files.length} file(s)`,
          };
        }
        throw new HttpError(400, "bad_request", 'The upload has no part named "file" with the export');
      }),
    DELETE: async (c) => {
      const source = c.req.query("source") || undefined;
      return c.json(
        await facade.removeAnalyticsImports(c.req.param("domain") ?? "", source, {
          signal: c.req.raw.signal,
        }),
      );
    },
  }, { errors });
  defineRoute(api, "/sites/:domain/imports/:source/delete", {
    POST: (c) =>
      formAction(c, async () => {
        const result = await facade.removeAnalyticsImports(
          c.req.param("domain") ?? "",
          c.req.param("source"),
          {
            signal: c.req.raw.signal,
          },
        );
        return { json: c.json(result), saved: `Removed ${result.removed} imported rows` };
      }),
  }, { errors });
  return api;
}

/** Whether the request is a browser's form post (it accepts HTML), answered by a redirect to the page. */
export function isHtmlForm(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("text/html");
}

/**
 * Runs an action; a browser's form gets a `303` back to the site's history page
 * with `?saved=` or (for a refusal) `?error=`, any other client the JSON answer or error.
 */
export async function formAction(
  c: Context,
  action: () => Promise<{ json: Response; saved: string }>,
): Promise<Response> {
  const page = `/sites/${encodeURIComponent(c.req.param("domain") ?? "")}/history`;
  if (!isHtmlForm(c)) return (await action()).json;
  try {
    const { saved } = await action();
    return c.redirect(`${page}?${new URLSearchParams({ saved })}`, 303);
  } catch (err) {
    const name = (err as Error).name;
    const refused = err instanceof HttpError || ["TypeError", "RangeError", "NotFoundError", "ImportError"]
      .includes(name);
    if (!refused) throw err;
    return c.redirect(`${page}?${new URLSearchParams({ error: (err as Error).message.slice(0, 300) })}`, 303);
  }
}

async function readAll(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let size = 0;
  for await (const piece of stream) {
    size += piece.byteLength;
    if (size > maxBytes) throw tooLarge(maxBytes);
    pieces.push(piece);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const piece of pieces) {
    bytes.set(piece, at);
    at += piece.byteLength;
  }
  return bytes;
}

/**
 * Registers a path with one handler per method and answers every other method
 * with 405 and an `Allow` header, which Hono alone does not do (it would say 404).
 *
 * ```ts
 * defineRoute(api, "/node", { GET: (c) => c.json(info) });
 * ```
 */
import type { Env, Handler, Hono } from "hono";
import { HttpError } from "./http_error.ts";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export function defineRoute<E extends Env>(
  app: Hono<E>,
  path: string,
  handlers: Partial<Record<Method, Handler<E>>>,
): void {
  const methods = Object.keys(handlers) as Method[];
  for (const method of methods) app.on(method, path, handlers[method]!);
  // Hono answers HEAD with the GET handler, so HEAD is allowed wherever GET is.
  const allow = [...methods, ...(methods.includes("GET") ? ["HEAD"] : [])].join(", ");
  app.all(path, (c) => {
    throw new HttpError(
      405,
      "method_not_allowed",
      `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`,
      {
        headers: { Allow: allow },
      },
    );
  });
}

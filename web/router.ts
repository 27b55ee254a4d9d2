/**
 * Registers a path with one handler per method and answers every other method
 * with 405 and an `Allow` header, which Hono alone does not do (it would say 404).
 *
 * ```ts
 * defineRoute(api, "/node", { GET: (c) => c.json(info) });
 * defineRoute(api, "/fetches/:cid", { GET: … }, { errors: { badInput: 400 } });
 * ```
 *
 * `options.errors` is the route's policy for the app's error table (`http_error.ts`): the
 * handlers just throw, and `app.onError` maps what they throw.
 */
import type { Env, Handler, Hono } from "hono";
import { type ErrorPolicy, HttpError, setErrorPolicy } from "./http_error.ts";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export function defineRoute<E extends Env>(
  app: Hono<E>,
  path: string,
  handlers: Partial<Record<Method, Handler<E>>>,
  options: { errors?: ErrorPolicy } = {},
): void {
  const methods = Object.keys(handlers) as Method[];
  const policy = options.errors;
  for (const method of methods) {
    const handler = handlers[method]!;
    app.on(
      method,
      path,
      policy
        ? (c, next) => {
          setErrorPolicy(c.req.raw, policy);
          return handler(c, next);
        }
        : handler,
    );
  }
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

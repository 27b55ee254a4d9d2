/**
 * The `?preview=1` convention of the endpoints that make the node sign
 * (`protocol/api/fees.ts`): the route validates everything as it would, then
 * answers the facade's fee preview (`200 { preview: true, fee, … }`) and
 * signs nothing. Any other value than `1`/`true`/`0`/`false` is a 400.
 *
 * ```ts
 * if (wantsPreview(c)) return c.json(await facade.previewWithdrawPayouts({ signal }));
 * ```
 */
import type { Context } from "hono";
import { PreviewQuery } from "../../../protocol/api/fees.ts";
import { validate } from "../../validate.ts";

/** Whether the request asks for a fee preview (`?preview=1`). */
export function wantsPreview(c: Context): boolean {
  const preview = c.req.query("preview");
  return validate(PreviewQuery, preview === undefined ? {} : { preview }, { status: 400 }).preview;
}

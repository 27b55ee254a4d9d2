/**
 * Consent on chain, from this node's wallet or relayed from the person's own signature:
 *
 * - `GET /api/v1/consents` every consent this node granted or relayed, with its state on chain.
 * - `POST /api/v1/consents { kind, purpose, expiresAt, signed? }` grants (201 `GrantedConsent`);
 *   with `signed` the node relays the person's signature of the grant message and pays.
 * - `DELETE /api/v1/consents/:id` revokes a consent this node's wallet holds (one transaction);
 *   another wallet's consent is a 403, an unknown one a 404, one already revoked a 409.
 * - `GET /api/v1/consents/grant-message?kind&purpose&expiresAt&contributor&deadline` the EIP-712
 *   `Grant` the person's wallet signs, with their current nonce (`deadline` in unix seconds).
 *
 * The signing routes take `?preview=1` (`protocol/api/fees.ts`): checked and estimated, nothing sent.
 */
import { Hono } from "hono";
import { ConsentIdParam, GrantConsentBody, GrantMessageParams } from "../../../protocol/api/consents.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";
import { wantsPreview } from "./preview.ts";

const maxBytes = 4 * 1024;
/** A revert the checks before sending did not foresee (a race with another transaction) is a conflict. */
const errors: ErrorPolicy = { badInput: 422, reverts: "conflict" };

export function createConsentRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  defineRoute(api, "/consents", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.listConsents({ signal: c.req.raw.signal }));
    },
    POST: async (c) => {
      const preview = wantsPreview(c);
      const fields = await readBody(c, GrantConsentBody, { maxBytes });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewGrantConsent(fields, { signal }));
      return c.json(await facade.grantConsent(fields, { signal }), 201);
    },
  }, { errors });
  defineRoute(api, "/consents/grant-message", {
    GET: async (c) => {
      const query = validate(GrantMessageParams, new URL(c.req.url).searchParams, { status: 400 });
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getGrantMessage(query, { signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/consents/:id", {
    DELETE: async (c) => {
      const preview = wantsPreview(c);
      const id = validate(ConsentIdParam, c.req.param("id"), { status: 400 });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewRevokeConsent(id, { signal }));
      return c.json(await facade.revokeConsent(id, { signal }));
    },
  }, { errors });
  return api;
}

/**
 * The browser extension's side of the node. The owner asks for a pairing code (8 characters from an
 * alphabet without look-alikes, 10 minutes, single use, at most 3 pending), types it into the
 * Kosmos extension, which trades it for its own token (32 random bytes). That token may read
 * whether this node's wallet holds a consent for the `browsing` kind valid on chain now, and, only
 * then, send the visits it recorded, which become a `browsing` source of the `sources` service
 * (durable before the answer). It opens no other route: the web layer's owner check does not know
 * it. Pairing attempts are rate limited per client and in all; sends per token.
 *
 * Tables (`store.ts`): `extension_pairings` (SHA-256 of each pending code, expiry) and
 * `extension_tokens` (id, SHA-256 of the token, created and last used). No protocol, no events.
 *
 * ```ts
 * const ext = node.components.extension;
 * const { code } = ext.createPairing();              // shown on My data
 * const { token } = ext.pair(code, { caller: ip });  // the extension keeps it
 * await ext.status(token);                           // { paired: true, consent: false }
 * await ext.receiveVisits(token, [{ domain: "example.org", visitedAt: Date.now() }]); // after consent
 * ext.revokeToken(ext.listTokens()[0].id);
 * ```
 */
import { defineService } from "../../service.ts";
import { Extension, type ExtensionComponents, type ExtensionInit } from "./extension.ts";

export {
  ConsentRequiredError,
  Extension,
  type ExtensionComponents,
  type ExtensionInit,
  ExtensionRateLimitError,
  ExtensionTokenError,
  PairingCodeError,
} from "./extension.ts";
export type { ExtensionTokenRecord } from "./store.ts";
export { CODE_ALPHABET, CODE_LENGTH } from "./codes.ts";

/** The `extension` component; migrations run in `start()`. */
export function extension(init: ExtensionInit = {}) {
  return defineService(
    "extension",
    ["db", "consent", "sources"],
    (c: ExtensionComponents) => new Extension(c, init),
  );
}

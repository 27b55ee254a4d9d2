/**
 * Consent on chain: a person grants consent to share one kind of imported source for one purpose
 * until a time, as a non-transferable record on the consent contract held by their wallet, and
 * revokes it with one transaction. Granting is direct (this node's wallet signs and pays) or
 * gasless (the person's wallet signs the EIP-712 `Grant` of {@link Consents.grantMessage}; the
 * node checks the signature off chain, so a bad one costs no gas, then relays it with
 * `grantBySig` and pays). A publication made under this wallet's consents is recorded as the
 * wallet's on `KosmosOwnership` ({@link Consents.recordOwnership}).
 *
 * Tables: `consents` (token id per chain and contract, kind, purpose text, contributor, granted,
 * expiry and revocation times, whether relayed, transaction hashes) and `consent_scans` (the last
 * block whose `Granted` logs of this wallet were read). The state of a consent (valid, revoked,
 * expired) is always read from the chain, never from the table; consents of this wallet granted
 * elsewhere are found in the logs. No protocol, no events.
 *
 * ```ts
 * const consent = node.components.consent;
 * const record = await consent.grant({ kind: "spotify", purpose: "music research", expiresAt: Date.now() + 30 * day });
 * await consent.validFor("spotify", "music research"); // [record] while valid on chain
 * const { tokenId } = await consent.recordOwnership(manifestCid, [record.tokenId]);
 * await consent.revoke(record.tokenId.toString());
 * ```
 */
import { defineService } from "../../service.ts";
import { Consents, type ConsentsComponents, type ConsentsInit } from "./consents.ts";

export { Consents, type ConsentsComponents, type ConsentsInit } from "./consents.ts";
export {
  ConsentNotHeldError,
  ConsentNotValidError,
  type ConsentRecord,
  ConsentSignatureError,
  type ConsentState,
  type GrantFields,
  type GrantMessageQuery,
  toConsentId,
  toManifestDigest,
} from "./records.ts";

export {
  type GrantTypedData,
  MAX_CONSENT_DURATION,
  MAX_GRANT_DEADLINE,
  MAX_PURPOSE_LENGTH,
  MIN_CONSENT_DURATION,
  MIN_PURPOSE_LENGTH,
} from "./fields.ts";

/** The `consent` service; migrations run in `start()`. */
export function consent(init: ConsentsInit = {}) {
  return defineService(
    "consent",
    ["db", "chain", "identity"],
    (c: ConsentsComponents) => new Consents(c, init),
  );
}

/**
 * Consent on chain (`ConsentsApi`): grants (direct or relayed from the person's signature),
 * revocations, the list with each consent's state as the chain answers, and the EIP-712 `Grant` a
 * person signs for a gasless grant. Records of the `consent` service mapped to views: token ids,
 * nonces and deadlines as decimal strings, times in ms.
 */
import type { ConsentsApi, ConsentView, GrantMessageView } from "../../protocol/api/consents.ts";
import type { ConsentRecord, Consents, GrantTypedData } from "../services/consent/mod.ts";
import { toFeeView, withGasUsed } from "./fees.ts";

export interface ConsentsApiComponents {
  consent: Consents;
}

export function createConsentsApi(c: ConsentsApiComponents): ConsentsApi {
  const { consent } = c;
  return {
    async grantConsent(fields, options = {}) {
      return await withGasUsed(async () => toConsentView(await consent.grant(fields, options)));
    },
    async previewGrantConsent(fields, options = {}) {
      const { fee } = await consent.previewGrant(fields, options);
      return { preview: true, fee: toFeeView(fee) };
    },
    async revokeConsent(id, options = {}) {
      return await withGasUsed(async () => toConsentView(await consent.revoke(id, options)));
    },
    async previewRevokeConsent(id, options = {}) {
      const { fee } = await consent.previewRevoke(id, options);
      return { preview: true, fee: toFeeView(fee) };
    },
    async listConsents(options = {}) {
      return { consents: (await consent.list(options)).map(toConsentView) };
    },
    async getGrantMessage(query, options = {}) {
      return toGrantMessageView(await consent.grantMessage(query, options));
    },
  };
}

export function toConsentView(r: ConsentRecord): ConsentView {
  const id = r.tokenId.toString();
  return {
    id,
    tokenId: id,
    kind: r.kind,
    purpose: r.purpose,
    contributor: r.contributor,
    grantedAt: r.grantedAt,
    expiresAt: r.expiresAt,
    revokedAt: r.revokedAt,
    state: r.state,
    gasless: r.gasless,
    txHash: r.txHash,
    revokeTxHash: r.revokeTxHash,
  };
}

function toGrantMessageView(t: GrantTypedData): GrantMessageView {
  return {
    domain: { ...t.domain },
    types: { Grant: t.types.Grant.map((f) => ({ ...f })) },
    primaryType: "Grant",
    message: {
      contributor: t.message.contributor,
      source: t.message.source,
      purpose: t.message.purpose,
      expiry: t.message.expiry.toString(),
      nonce: t.message.nonce.toString(),
      deadline: t.message.deadline.toString(),
    },
  };
}

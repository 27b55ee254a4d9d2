/**
 * The consent service's class: grants (direct or relayed), revocations, the list with its state read
 * from the chain, the consents valid now for one kind and purpose, and ownership records of
 * publications. See `mod.ts`.
 */
import { type Address, type Hex, sha256, toBytes, verifyTypedData } from "viem";
import { NotFoundError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { SourceKind } from "../../../protocol/sources.ts";
import {
  type ChainService,
  estimateCallFee,
  type FeeEstimate,
  getConsent,
  getConsentNonce,
  getGrantConsentBySigCall,
  getGrantConsentCall,
  getGrantedConsents,
  getRecordOwnershipCall,
  getRevokeConsentCall,
  grantConsent,
  grantConsentBySig,
  isConsentValid,
  type KosmosClient,
  recordOwnership,
  revokeConsent,
  toPurposeId,
} from "../chain/mod.ts";
import type { Database } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import {
  buildGrantTypedData,
  checkAddress,
  checkDeadline,
  type CheckedGrant,
  checkGrantFields,
  checkKind,
  type GrantTypedData,
} from "./fields.ts";
import {
  checkConsentIds,
  ConsentNotHeldError,
  ConsentNotValidError,
  type ConsentRecord,
  ConsentSignatureError,
  type ConsentState,
  type GrantFields,
  type GrantMessageQuery,
  KIND_BY_SOURCE,
  toConsentId,
  toManifestDigest,
} from "./records.ts";
import { ConsentStore, type StoredConsent } from "./store.ts";

export interface ConsentsComponents {
  db: Database;
  chain: ChainService;
  identity: Identity;
  log: Logger;
}

export interface ConsentsInit {
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

type Options = { signal?: AbortSignal };

/** Reads of the chain run this many at a time. */
const READ_CONCURRENCY = 16;

export class Consents {
  readonly #c: ConsentsComponents;
  readonly #store: ConsentStore;
  readonly #now: () => number;

  constructor(components: ConsentsComponents, init: ConsentsInit = {}) {
    this.#c = components;
    this.#store = new ConsentStore(components.db);
    this.#now = init.now ?? Date.now;
  }

  /** Runs the migrations. */
  start(): Promise<void> {
    this.#store.open();
    return Promise.resolve();
  }

  /** This node's wallet, which grants, revokes and records ownership. */
  get address(): Address {
    return this.#c.identity.account.address;
  }

  /** Grants consent on chain and stores it; the token id comes from the `Granted` event. */
  async grant(fields: GrantFields, options: Options = {}): Promise<ConsentRecord> {
    const client = this.#c.chain.client;
    const grant = checkGrantFields(fields, this.#now());
    const signed = fields.signed && await this.#checkSigned(client, grant, fields.signed);
    options.signal?.throwIfAborted();
    const sent = await this.#c.chain.exclusive(() =>
      signed
        ? grantConsentBySig(client, { ...this.#grantParams(grant), ...signed, signal: options.signal })
        : grantConsent(client, { ...this.#grantParams(grant), signal: options.signal })
    );
    const block = await client.publicClient.getBlock({ blockNumber: sent.blockNumber });
    const stored: StoredConsent = {
      chainId: this.#c.chain.chainId,
      contract: client.contracts.consent,
      tokenId: sent.consentId,
      kind: grant.kind,
      purpose: grant.purpose,
      contributor: signed ? signed.contributor : this.address,
      grantedAt: Number(block.timestamp) * 1000,
      expiresAt: grant.expiresAt,
      revokedAt: null,
      gasless: Boolean(signed),
      txHash: sent.txHash,
      revokeTxHash: null,
    };
    this.#store.put(stored);
    this.#c.log.info("granted consent", {
      tokenId: sent.consentId.toString(),
      kind: grant.kind,
      gasless: Boolean(signed),
      gasUsed: sent.gasUsed.toString(),
    });
    return { ...stored, state: "valid" };
  }

  /** What {@link grant} would cost; checks what it checks and sends nothing. */
  async previewGrant(fields: GrantFields, options: Options = {}): Promise<{ fee: FeeEstimate }> {
    const client = this.#c.chain.client;
    const grant = checkGrantFields(fields, this.#now());
    const signed = fields.signed && await this.#checkSigned(client, grant, fields.signed);
    options.signal?.throwIfAborted();
    const call = signed
      ? getGrantConsentBySigCall(client, { ...this.#grantParams(grant), ...signed })
      : getGrantConsentCall(client, this.#grantParams(grant));
    return { fee: await estimateCallFee(client, call, { action: "grant consent" }) };
  }

  /** Revokes a consent this node's wallet holds (one transaction). */
  async revoke(id: string, options: Options = {}): Promise<ConsentRecord> {
    const client = this.#c.chain.client;
    const tokenId = toConsentId(id);
    await this.#checkRevocable(client, tokenId);
    options.signal?.throwIfAborted();
    const sent = await this.#c.chain.exclusive(() =>
      revokeConsent(client, { consentId: tokenId, signal: options.signal })
    );
    await this.#sync(client);
    const contract = client.contracts.consent;
    this.#store.setRevoked(this.#c.chain.chainId, contract, tokenId, sent.revokedAt * 1000, sent.txHash);
    this.#c.log.info("revoked consent", { tokenId: tokenId.toString(), gasUsed: sent.gasUsed.toString() });
    const stored = this.#store.get(this.#c.chain.chainId, contract, tokenId);
    if (!stored) throw new NotFoundError(`Consent ${tokenId} is not a consent of a known kind of source`);
    return { ...stored, state: "revoked" };
  }

  /** What {@link revoke} would cost; checks what it checks and sends nothing. */
  async previewRevoke(id: string, options: Options = {}): Promise<{ fee: FeeEstimate }> {
    const client = this.#c.chain.client;
    const tokenId = toConsentId(id);
    await this.#checkRevocable(client, tokenId);
    options.signal?.throwIfAborted();
    const fee = await estimateCallFee(client, getRevokeConsentCall(client, { consentId: tokenId }), {
      action: `revoke consent ${tokenId}`,
    });
    return { fee };
  }

  /**
   * Every consent this node granted or relayed, and those granted by its wallet elsewhere (found in
   * the `Granted` logs), oldest first, each with its state read from the chain now.
   */
  async list(options: Options = {}): Promise<ConsentRecord[]> {
    const client = this.#c.chain.client;
    await this.#sync(client);
    options.signal?.throwIfAborted();
    const stored = this.#store.list(this.#c.chain.chainId, client.contracts.consent);
    const records: ConsentRecord[] = [];
    for (let i = 0; i < stored.length; i += READ_CONCURRENCY) {
      options.signal?.throwIfAborted();
      const batch = stored.slice(i, i + READ_CONCURRENCY);
      records.push(...await Promise.all(batch.map((s) => this.#withState(client, s))));
    }
    return records;
  }

  /** This node wallet's consents for `kind` and `purpose` that are valid on chain now. */
  async validFor(kind: SourceKind, purpose: string, options: Options = {}): Promise<ConsentRecord[]> {
    checkKind(kind);
    const me = this.address.toLowerCase();
    return (await this.list(options)).filter((r) =>
      r.state === "valid" && r.kind === kind && r.purpose === purpose && r.contributor.toLowerCase() === me
    );
  }

  /** This node wallet's consents for `kind`, whatever their purpose, that are valid on chain now. */
  async validForKind(kind: SourceKind, options: Options = {}): Promise<ConsentRecord[]> {
    checkKind(kind);
    const me = this.address.toLowerCase();
    return (await this.list(options)).filter((r) =>
      r.state === "valid" && r.kind === kind && r.contributor.toLowerCase() === me
    );
  }

  /**
   * Records on `KosmosOwnership` that this node's wallet owns the publication `manifestCid`, made
   * under `consentIds` (1 to 64 distinct consents the wallet holds, each valid now).
   */
  async recordOwnership(
    manifestCid: string,
    consentIds: readonly bigint[],
    options: Options = {},
  ): Promise<{ tokenId: bigint; txHash: Hex; gasUsed: bigint }> {
    const client = this.#c.chain.client;
    const manifestDigest = toManifestDigest(manifestCid);
    await this.#checkUsable(client, checkConsentIds(consentIds));
    options.signal?.throwIfAborted();
    const sent = await this.#c.chain.exclusive(() =>
      recordOwnership(client, { manifestDigest, consentIds, signal: options.signal })
    );
    this.#c.log.info("recorded the ownership of a publication", {
      manifestCid,
      tokenId: sent.tokenId.toString(),
      gasUsed: sent.gasUsed.toString(),
    });
    return { tokenId: sent.tokenId, txHash: sent.txHash, gasUsed: sent.gasUsed };
  }

  /** What {@link recordOwnership} would cost (for `manifestCid`, or any manifest: the gas is the same). */
  async previewRecordOwnership(
    consentIds: readonly bigint[],
    options: Options & { manifestCid?: string } = {},
  ): Promise<{ fee: FeeEstimate }> {
    const client = this.#c.chain.client;
    const ids = checkConsentIds(consentIds);
    // Without a manifest, a digest of the same size: the gas does not depend on its value.
    const manifestDigest = options.manifestCid
      ? toManifestDigest(options.manifestCid)
      : sha256(toBytes(`kosmos/ownership/estimate/${ids.join(",")}`));
    await this.#checkUsable(client, ids);
    const fee = await estimateCallFee(
      client,
      getRecordOwnershipCall(client, { manifestDigest, consentIds: ids }),
      {
        action: "record the ownership of the publication",
      },
    );
    return { fee };
  }

  /** The EIP-712 `Grant` `query.contributor` signs for the node to relay, with their current nonce. */
  async grantMessage(query: GrantMessageQuery, options: Options = {}): Promise<GrantTypedData> {
    const client = this.#c.chain.client;
    const grant = checkGrantFields(query, this.#now());
    const contributor = checkAddress("contributor", query.contributor);
    const deadline = checkDeadline(query.deadline, await this.#chainNow(client));
    options.signal?.throwIfAborted();
    const nonce = await getConsentNonce(client, { contributor });
    return buildGrantTypedData({
      chainId: this.#c.chain.chainId,
      consent: client.contracts.consent,
      contributor,
      source: grant.source,
      purposeId: grant.purposeId,
      expiry: grant.expiry,
      nonce,
      deadline,
    });
  }

  #grantParams(grant: CheckedGrant) {
    return { source: grant.source, purpose: grant.purposeId, expiry: grant.expiry };
  }

  /** Checks a relayed grant off chain, so a bad signature costs no gas. */
  async #checkSigned(
    client: KosmosClient,
    grant: CheckedGrant,
    signed: NonNullable<GrantFields["signed"]>,
  ): Promise<{ contributor: Address; deadline: bigint; signature: Hex }> {
    const contributor = checkAddress("signed.contributor", signed.contributor);
    const chainNow = await this.#chainNow(client);
    if (!Number.isSafeInteger(signed.deadline) || signed.deadline <= chainNow) {
      throw new ConsentSignatureError(
        `The signed grant's deadline ${signed.deadline} has passed (the chain's time is ${chainNow}); sign a new one`,
      );
    }
    const deadline = checkDeadline(signed.deadline, chainNow);
    const nonce = await getConsentNonce(client, { contributor });
    const verify = async (n: bigint) => {
      const typed = buildGrantTypedData({
        chainId: this.#c.chain.chainId,
        consent: client.contracts.consent,
        contributor,
        source: grant.source,
        purposeId: grant.purposeId,
        expiry: grant.expiry,
        nonce: n,
        deadline,
      });
      try {
        return await verifyTypedData({ ...typed, address: contributor, signature: signed.signature });
      } catch {
        return false;
      }
    };
    if (await verify(nonce)) return { contributor, deadline, signature: signed.signature };
    if (nonce > 0n && await verify(nonce - 1n)) {
      throw new ConsentSignatureError(
        `This signed grant of ${contributor} was already used (its nonce is ${
          nonce - 1n
        }, the next is ${nonce})`,
      );
    }
    throw new ConsentSignatureError(
      `The signature is not ${contributor}'s grant of these values (kind, purpose, expiresAt, deadline) with nonce ${nonce}`,
    );
  }

  async #checkRevocable(client: KosmosClient, tokenId: bigint): Promise<void> {
    const record = await getConsent(client, { consentId: tokenId });
    if (!record) throw new NotFoundError(`No consent ${tokenId} on the consent contract`);
    if (record.contributor.toLowerCase() !== this.address.toLowerCase()) {
      throw new ConsentNotHeldError(
        `Consent ${tokenId} is held by ${record.contributor}, not by this node's wallet ${this.address}: only its holder can revoke it`,
      );
    }
    if (record.revokedAt !== 0) {
      throw new ConsentNotValidError(
        `Consent ${tokenId} was already revoked at ${new Date(record.revokedAt * 1000).toISOString()}`,
      );
    }
  }

  /** Each consent must be valid now and held by this node's wallet. */
  async #checkUsable(client: KosmosClient, ids: readonly bigint[]): Promise<void> {
    const me = this.address.toLowerCase();
    for (let i = 0; i < ids.length; i += READ_CONCURRENCY) {
      const batch = ids.slice(i, i + READ_CONCURRENCY);
      const checks = await Promise.all(batch.map(async (consentId) => {
        const [record, valid] = await Promise.all([
          getConsent(client, { consentId }),
          isConsentValid(client, { consentId }),
        ]);
        return { consentId, record, valid };
      }));
      for (const { consentId, record, valid } of checks) {
        if (!record) throw new ConsentNotValidError(`No consent ${consentId} on the consent contract`);
        if (record.contributor.toLowerCase() !== me) {
          throw new ConsentNotHeldError(
            `Consent ${consentId} is held by ${record.contributor}, not by this node's wallet ${this.address}`,
          );
        }
        if (!valid) {
          throw new ConsentNotValidError(
            `Consent ${consentId} is ${record.revokedAt !== 0 ? "revoked" : "expired"}`,
          );
        }
      }
    }
  }

  async #withState(client: KosmosClient, s: StoredConsent): Promise<ConsentRecord> {
    const [record, valid] = await Promise.all([
      getConsent(client, { consentId: s.tokenId }),
      isConsentValid(client, { consentId: s.tokenId }),
    ]);
    let revokedAt = s.revokedAt;
    if (record && record.revokedAt !== 0 && revokedAt === null) {
      // Revoked elsewhere (another node holding the same wallet, or the contributor's own wallet).
      revokedAt = record.revokedAt * 1000;
      this.#store.setRevoked(s.chainId, s.contract, s.tokenId, revokedAt, null);
    }
    const state: ConsentState = record && record.revokedAt !== 0 ? "revoked" : valid ? "valid" : "expired";
    return {
      tokenId: s.tokenId,
      kind: s.kind,
      purpose: s.purpose,
      contributor: s.contributor,
      grantedAt: s.grantedAt,
      expiresAt: record ? record.expiry * 1000 : s.expiresAt,
      revokedAt,
      state,
      gasless: s.gasless,
      txHash: s.txHash,
      revokeTxHash: s.revokeTxHash,
    };
  }

  /**
   * Stores the consents of this node's wallet granted since the last scan that the table lacks (a
   * grant made elsewhere, or one whose answer a restart lost). Logs whose source is not a kind of
   * source are another consent (a site's analytics) and are skipped.
   */
  async #sync(client: KosmosClient): Promise<void> {
    const chainId = this.#c.chain.chainId;
    const contract = client.contracts.consent;
    const me = this.address;
    const from = this.#store.getScannedBlock(chainId, contract, me) + 1n;
    const latest = await client.publicClient.getBlockNumber({ cacheTime: 0 });
    if (from > latest) return;
    const logs = await getGrantedConsents(client, { contributor: me, fromBlock: from });
    // The chain keeps the purpose's hash: its text is known when another consent here has it.
    const purposes = new Map(
      this.#store.list(chainId, contract).filter((s) => !s.purpose.startsWith("0x"))
        .map((s) => [toPurposeId(s.purpose).toLowerCase(), s.purpose] as const),
    );
    for (const log of logs) {
      if (log.blockNumber > latest) continue;
      if (this.#store.get(chainId, contract, log.consentId)) continue;
      const kind = KIND_BY_SOURCE.get(log.source.toLowerCase());
      if (!kind) continue;
      const [block, tx] = await Promise.all([
        client.publicClient.getBlock({ blockNumber: log.blockNumber }),
        client.publicClient.getTransaction({ hash: log.transactionHash }),
      ]);
      this.#store.put({
        chainId,
        contract,
        tokenId: log.consentId,
        kind,
        purpose: purposes.get(log.purpose.toLowerCase()) ?? log.purpose,
        contributor: log.contributor,
        grantedAt: Number(block.timestamp) * 1000,
        expiresAt: Number(log.expiry) * 1000,
        revokedAt: null,
        gasless: tx.from.toLowerCase() !== log.contributor.toLowerCase(),
        txHash: log.transactionHash,
        revokeTxHash: null,
      });
      this.#c.log.info("found a consent granted elsewhere", { tokenId: log.consentId.toString(), kind });
    }
    this.#store.setScannedBlock(chainId, contract, me, latest);
  }

  async #chainNow(client: KosmosClient): Promise<number> {
    const block = await client.publicClient.getBlock({ blockTag: "latest" });
    return Number(block.timestamp);
  }
}

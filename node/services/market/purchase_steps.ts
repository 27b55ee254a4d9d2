/**
 * The buyer's state machine, persisted in SQLite: `quoted → opened` (one
 * transaction, with permit; the ciphertext download starts) `→ revealed` (the
 * seller's key seen on chain; a wrong key is complained about and `refunded`)
 * `→ downloading` (every chunk fetched, its CID checked, decrypted, the
 * plaintext Merkle root checked) `→ verified → complete` (confirmed on chain).
 * Nothing is confirmed before the data verifies: bad data (or chunks nobody
 * serves as the dispute deadline nears) raises a bad-data dispute with the
 * evidence's hash (`./evidence.ts`), state `disputed`, then `refunded` or
 * `complete` as the arbiter rules. Without a reveal in time the node refunds
 * itself.
 *
 * ```ts
 * const purchases = new PurchaseSteps(x, (on) => runner.watchClosely(on));
 * while (await purchases.step(id));
 * ```
 */
import { type Hex, hexToBytes, keccak256 } from "viem";
import { type ManifestCid, toManifestCid } from "../../../protocol/ids.ts";
import type { Manifest } from "../../../protocol/manifest.ts";
import { computeDekCommit, decodeSaleKeys } from "../../../protocol/quote.ts";
import { complainSale, confirmSale, disputeSale, openSale, refundSale } from "../chain/mod.ts";
import { getManifest } from "../blocks/mod.ts";
import {
  checkDatasetData,
  computeEvidenceHash,
  type DataFailure,
  encodeDisputeEvidence,
} from "./evidence.ts";
import { second } from "../../constants.ts";
import type { MarketComponents, MarketContext, ResolvedMarketInit } from "./context.ts";
import type { MarketStore, MarketTx, PurchaseRecord, PurchaseStatus } from "./store.ts";

const ACTIVE_PURCHASE: readonly PurchaseStatus[] = [
  "quoted",
  "opened",
  "revealed",
  "downloading",
  "verified",
  "disputed",
];

export class PurchaseSteps {
  readonly #x: MarketContext;
  readonly #watchClosely: (on: boolean) => void;

  constructor(x: MarketContext, watchClosely: (on: boolean) => void) {
    this.#x = x;
    this.#watchClosely = watchClosely;
  }

  get #c(): MarketComponents {
    return this.#x.c;
  }

  get #init(): ResolvedMarketInit {
    return this.#x.init;
  }

  get #db(): MarketStore {
    return this.#x.store;
  }

  /** One step of a purchase; true when it moved. */
  async step(id: string): Promise<boolean> {
    const p = this.#db.getPurchase(id);
    if (!p || !ACTIVE_PURCHASE.includes(p.status)) return false;
    const client = this.#c.chain.client;
    const tx = (action: MarketTx["action"], hash: Hex): MarketTx => ({ action, hash });
    const events = this.#x.saleEvents(p.saleId);
    if (p.status !== "quoted" && p.status !== "opened") {
      if (events.refunded) {
        const why = {
          "not-revealed": "the seller did not reveal the key in time",
          "wrong-key": "the seller's key did not match the dataset's commitment; refunded after a complaint",
          "bad-data": "the arbiter found the data bad; refunded",
        }[events.refunded.reason];
        this.#x.setPurchase(id, { status: "refunded", error: why });
        return false;
      }
      if (events.completed && (p.status === "verified" || p.status === "disputed")) {
        this.#x.setPurchase(id, {
          status: "complete",
          ...(p.status === "disputed" && {
            error: events.disputeResolved?.expired
              ? "the arbiter did not rule in time; the sale completed for the seller"
              : "the arbiter found the data good; the sale completed",
          }),
        });
        return false;
      }
    }
    switch (p.status) {
      case "quoted": {
        if (events.opened) {
          this.#x.setPurchase(id, {
            status: "opened",
            sale: events.opened.sale,
            openedBlock: events.opened.blockNumber,
          });
          if (this.#init.downloadBeforeReveal) this.#prefetch(p);
          return true;
        }
        if (await this.#x.chainNow() > p.quote.deadline) {
          this.#x.setPurchase(id, {
            status: "failed",
            error: "the quote expired before the sale was opened",
          });
          return false;
        }
        const opened = await this.#x.send((signal) =>
          openSale(client, { quote: p.quote, signature: p.signature, signal })
        );
        this.#x.setPurchase(id, {
          status: "opened",
          sale: opened.sale,
          openedBlock: opened.blockNumber,
          tx: tx("open", opened.hash),
        });
        if (this.#init.downloadBeforeReveal) this.#prefetch(p);
        this.#watchClosely(true);
        return true;
      }
      case "opened": {
        if (events.refunded) {
          this.#x.setPurchase(id, { status: "refunded", error: "the seller did not reveal the key in time" });
          return false;
        }
        if (events.revealed) {
          this.#x.setPurchase(id, {
            status: "revealed",
            kSale: events.revealed.kSale,
            sale: { ...p.sale!, disputeDeadline: events.revealed.disputeDeadline },
          });
          return true;
        }
        if (await this.#x.chainNow() > BigInt(p.sale!.revealDeadline)) {
          const r = await this.#x.send((signal) =>
            refundSale(client, { saleId: p.saleId, sale: p.sale!, signal })
          );
          this.#x.setPurchase(id, {
            status: "refunded",
            error: "the seller did not reveal the key in time",
            tx: tx("refund", r.hash),
          });
        }
        return false;
      }
      case "revealed": {
        const [dek] = decodeSaleKeys(p.z, p.kSale!);
        if (keccak256(dek) === p.sale!.dekCommit && computeDekCommit([dek]) === p.quote.dekCommit) {
          // The key is right. Nothing is confirmed until the data it opens verifies.
          this.#x.setPurchase(id, { status: "downloading", dek: hexToBytes(dek) });
          return true;
        }
        this.#c.log.warn("found the revealed key wrong; complaining", {
          trace: id,
          manifestCid: p.manifestCid,
        });
        const r = await this.#x.send((signal) =>
          complainSale(client, { saleId: p.saleId, sale: p.sale!, kSale: p.kSale!, z: p.z, signal })
        );
        this.#x.setPurchase(id, {
          status: "refunded",
          error: "the seller's key did not match the dataset's commitment; refunded after a complaint",
          tx: tx("complain", r.hash),
        });
        return false;
      }
      case "downloading": {
        if (events.disputed) {
          // Disputed before a restart: the evidence is stored, the sale is frozen.
          this.#x.setPurchase(id, {
            status: "disputed",
            sale: { ...p.sale!, disputedAt: events.disputed.disputedAt },
          });
          return true;
        }
        return await this.#download(p);
      }
      case "verified": {
        if (events.disputed) return false; // an old dispute awaits its ruling (handled above when it ends)
        if (events.completed) {
          this.#x.setPurchase(id, { status: "complete", error: null });
          return false;
        }
        const r = await this.#x.send((signal) =>
          confirmSale(client, { saleId: p.saleId, sale: p.sale!, signal })
        );
        this.#x.setPurchase(id, { status: "complete", error: null, tx: tx("confirm", r.hash) });
        return false;
      }
      case "disputed":
        return false; // the arbiter's ruling (Refunded or Completed) ends it, above
    }
    return false;
  }

  /** Starts downloading a purchase's ciphertext (public, checked by CID) from its providers and seller. */
  #prefetch(p: PurchaseRecord): void {
    // Beside the catalog's providers and the seller, the DHT finds more.
    const providers = new Set([...this.#c.catalog.getProviders(p.manifestCid), p.sellerPeer]);
    try {
      this.#c.fetches.startFetch(p.manifestCid, { providers: [...providers] });
    } catch (err) {
      this.#c.log.debug("failed to start the download", { trace: p.id, error: err });
    }
  }

  /**
   * Fetches every chunk of a revealed purchase and checks it with the key;
   * moves to `verified`, or disputes the sale when the data is bad or still
   * missing as the dispute deadline nears.
   */
  async #download(p: PurchaseRecord): Promise<boolean> {
    const signal = this.#x.controller!.signal;
    const cid = toManifestCid(p.manifestCid);
    const deadline = BigInt(p.sale!.disputeDeadline);
    const lastChance = deadline - BigInt(this.#init.disputeMargin);
    const now = await this.#x.chainNow();
    if (this.#c.fetches.getFetch(cid)?.status !== "complete") {
      this.#prefetch(p);
      const left = Number(lastChance - now);
      if (left <= 0 && now <= deadline) return await this.#dispute(p, await this.#findMissing(cid));
      try {
        // Waits a few seconds at a time so that a deadline measured by chain time is seen.
        await this.#c.fetches.waitForFetch(cid, {
          signal,
          timeout: Math.min(Math.max(left, 1) * second, 5 * second),
        });
      } catch (err) {
        if (signal.aborted) throw err;
        this.#c.log.debug("waiting for the purchase's data", { trace: p.id, reason: (err as Error).message });
        return false; // the next tick starts the fetch again and looks at the deadline
      }
    }
    const manifest = await getManifest(this.#c.blocks, cid);
    const check = await checkDatasetData(this.#c.blocks, manifest, p.dek!, { signal });
    if (check.ok) {
      this.#x.setPurchase(p.id, { status: "verified", error: null });
      return true;
    }
    if (now > deadline || this.#x.saleEvents(p.saleId).completed) {
      // Too late to dispute (this node was away for the whole window): say so, do not send a doomed dispute.
      this.#x.setPurchase(p.id, {
        status: "failed",
        error:
          `the data is bad (${check.failure.message}) but the dispute window closed before it was checked`,
      });
      return false;
    }
    return await this.#dispute(p, check.failure);
  }

  /** The first chunk of a dataset the block store lacks, as a failure ("unavailable"). */
  async #findMissing(cid: ManifestCid): Promise<DataFailure> {
    let manifest: Manifest;
    try {
      manifest = await getManifest(this.#c.blocks, cid);
    } catch {
      return { what: "unavailable", message: "no provider served the manifest before the dispute deadline" };
    }
    for (const [index, chunk] of manifest.chunks.entries()) {
      if (!(await this.#c.blocks.has(chunk))) {
        return {
          what: "unavailable",
          chunk: index,
          cid: chunk.toString(),
          message: `no provider served chunk ${index} before the dispute deadline`,
        };
      }
    }
    return { what: "unavailable", message: "the download did not finish before the dispute deadline" };
  }

  /** Raises a bad-data dispute: the evidence is stored first, then its hash goes on chain. */
  async #dispute(p: PurchaseRecord, failure: DataFailure): Promise<boolean> {
    const evidence = p.evidence ?? encodeDisputeEvidence({
      v: 1,
      saleId: p.saleId,
      manifestCid: p.manifestCid,
      failure,
      z: p.z,
      kSale: p.kSale!,
    });
    if (!p.evidence) this.#x.setPurchase(p.id, { evidence });
    this.#c.log.warn("found the bought data bad; disputing", {
      trace: p.id,
      manifestCid: p.manifestCid,
      reason: failure.what,
      ...(failure.chunk !== undefined && { chunk: failure.chunk }),
    });
    const client = this.#c.chain.client;
    const r = await this.#x.send((signal) =>
      disputeSale(client, {
        saleId: p.saleId,
        sale: p.sale!,
        evidenceHash: computeEvidenceHash(evidence),
        signal,
      })
    );
    this.#x.setPurchase(p.id, {
      status: "disputed",
      sale: r.sale,
      error: `the data is bad (${failure.message}); disputed, awaiting the arbiter`,
      tx: { action: "dispute", hash: r.hash },
    });
    return true;
  }
}

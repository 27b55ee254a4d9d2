/**
 * The `Anchor` class: durable pending leaves, a batch timer that turns them into a Merkle root anchored on
 * `KosmosAnchor`, and the proofs. See `mod.ts`.
 *
 * ```ts
 * const anchor = new Anchor({ db, chain, log }, { intervalMs: 1000 });
 * await anchor.start();
 * anchor.add(contentCid);
 * await anchor.flush(); // what the timer does
 * anchor.proofOf(contentCid); // AnchorProofView once anchored
 * ```
 */
import { type Hex, keccak256, parseAbiItem } from "viem";
import { CID } from "multiformats/cid";
import { SHA2_256_CODE } from "../../../protocol/ids.ts";
import {
  anchorRoot,
  type ChainService,
  ContractRevertError,
  getAnchoredAt,
  type KosmosClient,
} from "../chain/mod.ts";
import type { Database } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { AnchorStore, type BatchRow } from "./store.ts";

/** Most leaves in one anchored batch. */
export const MAX_ANCHOR_BATCH = 4096;
export const DEFAULT_ANCHOR_INTERVAL_MS = 60_000;
/** How far back (blocks) the `Anchored` log of a root anchored by someone else is looked for. */
const LOG_LOOKBACK = 100_000n;
const ANCHORED_EVENT = parseAbiItem(
  "event Anchored(bytes32 indexed root, address indexed anchorer, uint64 anchoredAt, string label)",
);

/** A CID that cannot be anchored (not a CIDv1 with a sha2-256 hash). */
export class AnchorInputError extends KosmosError {
  override name = "AnchorInputError";
}

/** A proof of one CID: the same shape as `AnchorProofView` of the API. */
export interface AnchorProof {
  cid: string;
  leaf: Hex;
  proof: Hex[];
  root: Hex;
  chainId: number;
  anchor: Hex;
  txHash: Hex;
  blockNumber: string;
  anchoredAt: number;
}

export type AnchorStatus = "unknown" | "pending" | "anchoring" | "anchored";

export interface AnchorComponents {
  db: Database;
  chain: ChainService;
  log: Logger;
}

export interface AnchorInit {
  /** Between two batches, ms. @default 60,000 */
  intervalMs?: number;
  /** Most leaves per batch. @default 4096 */
  maxBatch?: number;
  /** The label sent with each root (only in the event). @default "kosmos anchor" */
  label?: string;
}

/** `keccak256` of the CID's binary form: the leaf a CID is anchored as. */
export function anchorLeafOf(cid: string): { cid: string; leaf: Hex } {
  let parsed: CID;
  try {
    parsed = CID.parse(cid);
  } catch (cause) {
    throw new AnchorInputError(`Cannot anchor "${String(cid).slice(0, 80)}": not a CID`, { cause });
  }
  if (parsed.version !== 1 || parsed.multihash.code !== SHA2_256_CODE || parsed.multihash.size !== 32) {
    throw new AnchorInputError(`Cannot anchor "${cid}": expected a CIDv1 with a sha2-256 hash`);
  }
  return { cid: parsed.toString(), leaf: keccak256(parsed.bytes) };
}

export class Anchor {
  readonly #c: AnchorComponents;
  readonly #store: AnchorStore;
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  readonly #label: string;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(components: AnchorComponents, init: AnchorInit = {}) {
    this.#c = components;
    this.#store = new AnchorStore(components.db);
    this.#intervalMs = init.intervalMs ?? DEFAULT_ANCHOR_INTERVAL_MS;
    this.#maxBatch = Math.min(init.maxBatch ?? MAX_ANCHOR_BATCH, MAX_ANCHOR_BATCH);
    this.#label = init.label ?? "kosmos anchor";
    if (!(this.#intervalMs > 0) || !(this.#maxBatch > 0)) {
      throw new RangeError("Bad anchor interval or batch");
    }
  }

  start(): Promise<void> {
    this.#stopped = false;
    if (this.#c.chain.contracts === undefined) {
      this.#c.log.info("no contracts on this chain: leaves are kept and not anchored");
      return Promise.resolve();
    }
    this.#schedule();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }

  /**
   * Queues `cid` (any CIDv1 with a sha2-256 hash: an epoch file's raw `contentCid`, a dataset's
   * `manifestCid`) for the next batch. Durable at once; adding a CID twice changes nothing.
   */
  add(cid: string): { cid: string; leaf: Hex; added: boolean } {
    const { cid: canonical, leaf } = anchorLeafOf(cid);
    const added = this.#store.addLeaf(canonical, leaf, Date.now());
    return { cid: canonical, leaf, added };
  }

  statusOf(cid: string): AnchorStatus {
    const row = this.#store.leaf(anchorLeafOf(cid).cid);
    if (!row) return "unknown";
    if (row.batchId === null) return "pending";
    return this.#store.batch(row.batchId)?.anchoredAt == null ? "anchoring" : "anchored";
  }

  isAnchored(cid: string): boolean {
    try {
      return this.statusOf(cid) === "anchored";
    } catch {
      return false;
    }
  }

  /** The proof of `cid` once its batch is anchored; `undefined` before (or for an unknown CID). */
  proofOf(cid: string): AnchorProof | undefined {
    const row = this.#store.leaf(anchorLeafOf(cid).cid);
    if (!row || row.batchId === null || row.proof === null) return undefined;
    const b = this.#store.batch(row.batchId);
    if (!b || b.anchoredAt === null || !b.txHash || !b.blockNumber || b.chainId === null || !b.anchor) {
      return undefined;
    }
    return {
      cid: row.cid,
      leaf: row.leaf,
      proof: row.proof,
      root: b.root,
      chainId: b.chainId,
      anchor: b.anchor,
      txHash: b.txHash,
      blockNumber: b.blockNumber,
      anchoredAt: b.anchoredAt,
    };
  }

  /** Leaves waiting, in batches not yet mined, anchored; and the number of batches. */
  stats(): { pending: number; batched: number; anchored: number; batches: number } {
    return this.#store.counts();
  }

  /**
   * One round of the timer: anchors every batch built but not recorded as anchored (a crash or a failed
   * transaction left it), then batches the pending leaves (up to the batch size per round) and anchors
   * them. Runs one at a time.
   */
  flush(options: { signal?: AbortSignal } = {}): Promise<void> {
    const run = (this.#running ?? Promise.resolve()).catch(() => {}).then(() => this.#flush(options));
    this.#running = run;
    return run;
  }

  async #flush(options: { signal?: AbortSignal }): Promise<void> {
    if (this.#c.chain.contracts === undefined) return;
    for (const batch of this.#store.unanchoredBatches()) {
      options.signal?.throwIfAborted();
      await this.#anchorBatch(batch, options);
    }
    const batch = this.#store.buildBatch({ max: this.#maxBatch, label: this.#label, now: Date.now() });
    if (batch) await this.#anchorBatch(batch, options);
  }

  async #anchorBatch(batch: BatchRow, options: { signal?: AbortSignal }): Promise<void> {
    const { chain, log } = this.#c;
    const client = chain.client;
    log.info("anchoring a batch", { batch: batch.id, leaves: batch.leaves, root: batch.root });
    try {
      const sent = await chain.exclusive(() =>
        anchorRoot(client, { root: batch.root, label: batch.label, signal: options.signal })
      );
      this.#record(batch, client, sent);
    } catch (err) {
      if (!(err instanceof ContractRevertError && err.revert === "AlreadyAnchored")) throw err;
      // Anchored before: by this node before a crash, or by another node for the same leaves.
      const found = await this.#findAnchored(client, batch.root);
      if (!found) throw err;
      this.#record(batch, client, found);
    }
  }

  #record(
    batch: BatchRow,
    client: KosmosClient,
    at: { txHash: Hex; blockNumber: bigint; anchoredAt: number },
  ): void {
    this.#store.markAnchored(batch.id, {
      ...at,
      chainId: this.#c.chain.chainId,
      anchor: client.contracts.anchor.toLowerCase() as Hex,
    });
    this.#c.log.info("anchored a batch", {
      batch: batch.id,
      leaves: batch.leaves,
      block: at.blockNumber.toString(),
      txHash: at.txHash,
    });
  }

  async #findAnchored(
    client: KosmosClient,
    root: Hex,
  ): Promise<{ txHash: Hex; blockNumber: bigint; anchoredAt: number } | undefined> {
    const anchoredAt = await getAnchoredAt(client, root);
    if (anchoredAt === 0) return undefined;
    const latest = await client.publicClient.getBlockNumber({ cacheTime: 0 });
    const logs = await client.publicClient.getLogs({
      address: client.contracts.anchor,
      event: ANCHORED_EVENT,
      args: { root },
      fromBlock: latest > LOG_LOOKBACK ? latest - LOG_LOOKBACK : 0n,
      toBlock: "latest",
    });
    const first = logs[0];
    if (!first?.transactionHash || first.blockNumber === null) return undefined;
    return { txHash: first.transactionHash, blockNumber: first.blockNumber, anchoredAt };
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      this.#timer = undefined;
      try {
        await this.flush();
      } catch (err) {
        this.#c.log.warn("anchoring failed; retrying next round", { error: err });
      }
      this.#schedule();
    }, this.#intervalMs);
  }
}

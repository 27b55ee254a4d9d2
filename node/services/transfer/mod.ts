/**
 * Moving encrypted blocks between nodes: the chunk protocol
 * (`/kosmos/chunks/1.0.0`, one CID per request, status and bytes per
 * response, served from the block store which re-checks every CID), the
 * parallel verified {@link fetchDataset} client, and the {@link Fetches}
 * service that runs fetches in the background, persists their progress and
 * resumes them after a restart.
 *
 * ```ts
 * const transfer = createTransfer({ p2p, blocks, log });
 * const fetches = createFetches({ db, blocks, p2p, transfer, log });
 * await transfer.start();
 * await fetches.start();
 * fetches.startFetch(manifestCid, { providers: [sellerPeerId] });
 * fetches.getFetch(manifestCid); // { status: "running", chunksVerified: 7, chunksTotal: 20, … }
 * await fetches.waitForFetch(manifestCid);
 * ```
 */
export {
  chunkBytes,
  type DatasetProgress,
  fetchDataset,
  type FetchDatasetComponents,
  type FetchDatasetOptions,
  type FetchedDataset,
  NoProviderError,
} from "./fetch.ts";
export {
  createFetches,
  FetchError,
  Fetches,
  type FetchesComponents,
  type FetchesInit,
  type FetchProgress,
  type FetchStatus,
  type StartFetchOptions,
} from "./fetches.ts";
export { type Penalty, ProviderScores, type ProviderScoresInit } from "./scores.ts";
export { TimeoutError, timeoutSignal } from "./signals.ts";
export {
  BlockNotFoundError,
  type ChunkGetOptions,
  ChunkSession,
  createTransfer,
  type OpenSessionOptions,
  ProviderError,
  type ServedDetail,
  Transfer,
  type TransferComponents,
  type TransferInit,
} from "./transfer.ts";
export { decodeRequest, encodeRequest, MAX_REQUEST_BYTES, OP_GET, OP_HAS, Status } from "./wire.ts";

/**
 * Downloading datasets: the parallel verified {@link fetchDataset} client
 * (manifest and chunks over the chunk protocol of `transfer`, spread across
 * providers, every block checked against its CID), and the {@link Fetches}
 * service that runs fetches in the background, persists their progress and
 * resumes them after a restart.
 *
 * ```ts
 * const fetches = createFetches({ db, blocks, p2p, transfer, log });
 * await fetches.start();
 * fetches.startFetch(manifestCid, { providers: [sellerPeerId] });
 * fetches.getFetch(manifestCid); // { status: "running", chunksVerified: 7, chunksTotal: 20, … }
 * await fetches.waitForFetch(manifestCid);
 * ```
 */
import { defineService, type ServiceFactory } from "../../service.ts";
import { createFetches, type Fetches, type FetchesComponents, type FetchesInit } from "./fetches.ts";

export {
  chunkBytes,
  type DatasetProgress,
  fetchDataset,
  type FetchDatasetComponents,
  type FetchDatasetOptions,
  type FetchedDataset,
  NoProviderError,
} from "./fetch_dataset.ts";
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

/** The `fetches` service: background dataset downloads, persisted and resumed. */
export function fetches(
  init: FetchesInit = {},
): ServiceFactory<"fetches", FetchesFactoryComponents, Fetches> {
  return defineService<"fetches", FetchesFactoryComponents, Fetches>(
    "fetches",
    ["db", "blocks", "p2p", "transfer"],
    (c) => createFetches(c, init),
  );
}

type FetchesFactoryComponents = Omit<FetchesComponents, "log">;

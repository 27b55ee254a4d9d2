/**
 * The streams, gateway, anchoring and analytics-import part of the app tests' empty node: not a gateway, no
 * streams known, no subscriptions, no site (split from `app_test.ts`, which holds the rest).
 */
import type { KosmosApi } from "../protocol/api/mod.ts";

type StreamsNode = Pick<
  KosmosApi,
  | "listStreams"
  | "getStream"
  | "publishStream"
  | "previewPublishStream"
  | "subscribe"
  | "previewSubscribe"
  | "renewSubscription"
  | "previewRenewSubscription"
  | "listSubscriptions"
  | "getSubscription"
  | "watchReadings"
  | "readEpoch"
  | "listSensors"
  | "registerSensor"
  | "grantSensorConsent"
  | "revokeSensorConsent"
  | "listGatewayOwners"
  | "createGatewayOwner"
  | "takeOverGatewayOwner"
  | "listIngestClients"
  | "createIngestClient"
  | "getGatewayStats"
  | "verifyIngestKey"
  | "ingestReadings"
  | "getProof"
  | "getIpfsBlock"
  | "getSitePaths"
  | "setSitePaths"
  | "resolveSitePath"
  | "importAnalytics"
  | "listAnalyticsImports"
  | "removeAnalyticsImports"
>;

function notFound(message: string): Error {
  return Object.assign(new Error(message), { name: "NotFoundError" });
}

function noContracts(): Error {
  return Object.assign(new Error("No Kosmos contracts on chain 31337"), { name: "ChainUnavailableError" });
}

export const streamsNode: StreamsNode = {
  listStreams: () => Promise.resolve({ streams: [] }),
  getStream: (id) => Promise.reject(notFound(`No stream "${id}"`)),
  publishStream: () => Promise.reject(noContracts()),
  previewPublishStream: () => Promise.reject(noContracts()),
  subscribe: () => Promise.reject(noContracts()),
  previewSubscribe: () => Promise.reject(noContracts()),
  renewSubscription: (id) => Promise.reject(notFound(`No subscription "${id}"`)),
  previewRenewSubscription: (id) => Promise.reject(notFound(`No subscription "${id}"`)),
  listSubscriptions: () => Promise.resolve({ subscriptions: [] }),
  getSubscription: (id) => Promise.reject(notFound(`No subscription "${id}"`)),
  watchReadings: (id) => Promise.reject(notFound(`No subscription "${id}"`)),
  readEpoch: (id) => Promise.reject(notFound(`No subscription "${id}"`)),
  listSensors: () => Promise.resolve({ sensors: [] }),
  registerSensor: () => Promise.reject(noContracts()),
  grantSensorConsent: (id) => Promise.reject(notFound(`No sensor "${id}"`)),
  revokeSensorConsent: (id) => Promise.reject(notFound(`No sensor "${id}"`)),
  listGatewayOwners: () => Promise.resolve({ owners: [] }),
  createGatewayOwner: () => Promise.reject(noContracts()),
  takeOverGatewayOwner: (address) => Promise.reject(notFound(`No owner ${address}`)),
  listIngestClients: () => Promise.resolve({ clients: [] }),
  createIngestClient: () => Promise.reject(noContracts()),
  getGatewayStats: () => Promise.reject(notFound("Not a gateway")),
  verifyIngestKey: () =>
    Promise.reject(Object.assign(new Error("Unknown ingest key"), { name: "IngestKeyError" })),
  ingestReadings: () =>
    Promise.reject(Object.assign(new Error("Unknown ingest key"), { name: "IngestKeyError" })),
  getProof: (cid) => Promise.reject(notFound(`No proof for ${cid}`)),
  getIpfsBlock: (cid) => Promise.reject(notFound(`This node does not hold ${cid}`)),
  getSitePaths: (domain) => Promise.reject(notFound(`No site ${domain}`)),
  setSitePaths: (domain) => Promise.reject(notFound(`No site ${domain}`)),
  resolveSitePath: () => Promise.resolve(undefined),
  importAnalytics: (domain) => Promise.reject(notFound(`No site ${domain}`)),
  listAnalyticsImports: () => Promise.resolve([]),
  removeAnalyticsImports: (domain) => Promise.reject(notFound(`No site ${domain}`)),
};

/**
 * Publishing a stream at its gateway: the manifest built from sensors registered here (all of one owner,
 * each with its attestation), signed by the owner (an identity proxy's key this node holds, or this node's
 * own wallet), then the registry listing `list(Kind.Stream, streamCid, bytes32(0), stake)` sent by the
 * owner (a proxy is funded with gas and the stake from this node's wallet first) and, for a proxy, this
 * node approved as the listing's escrow delegate so it signs the quotes.
 *
 * ```ts
 * const built = await buildStreamManifest(x, fields); // { manifest, bytes, streamId }
 * const { listingId } = await listStreamAsOwner(x, built, { stake });
 * ```
 */
import { type Address, getAddress, type LocalAccount } from "viem";
import {
  DEFAULT_EPOCH_SECONDS,
  encodeStreamManifest,
  signStreamManifest,
  type StreamColumn,
  type StreamManifest,
  type StreamManifestBody,
} from "../../../protocol/streams.ts";
import {
  type ChainService,
  estimateFeesPerGas,
  type FeeEstimate,
  getRegistryConfig,
  listStream,
  setSaleDelegate,
  toFeeEstimate,
} from "../chain/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { NotFoundError } from "../../errors.ts";
import { type Owners, OwnerStateError } from "./owners.ts";
import type { Sensors } from "./sensors.ts";

/** What a stream's publisher asks for (checked again here: the API's schema is not the only caller). */
export interface PublishStreamFields {
  title: string;
  description?: string;
  sensors: string[];
  schema: StreamColumn[];
  /** Token base units per hour (decimal). */
  pricePerHour: string;
  /** @default 3600 */
  epochSeconds?: number;
  licence: string;
  /** Tokens staked, base units. @default the registry's minimum */
  stake?: bigint;
}

export interface PublishComponents {
  chain: ChainService;
  identity: Identity;
  p2p: P2P;
  log: Logger;
  sensors: Pick<Sensors, "get">;
  owners: Pick<Owners, "get" | "isProxy" | "account" | "client" | "exclusive" | "fundGas" | "fundTokens">;
}

/**
 * Gas of publishing a stream for a proxy owner, as an upper bound for the preview: funding the proxy (a
 * transfer and a token transfer), `listWithPermit` and `setDelegate`.
 */
export const PUBLISH_STREAM_GAS = 21_000n + 60_000n + 260_000n + 60_000n;

/** The owner of `fields.sensors` (one for all) and an account that signs as them. */
async function ownerOf(
  x: PublishComponents,
  sensorIds: readonly string[],
): Promise<{ owner: Address; account: LocalAccount; proxy: boolean }> {
  if (!Array.isArray(sensorIds) || sensorIds.length === 0) {
    throw new TypeError("A stream needs at least one sensor registered at this gateway");
  }
  let owner: Address | undefined;
  for (const id of sensorIds) {
    const sensor = x.sensors.get(id);
    if (!sensor) {
      throw new NotFoundError(`No sensor "${String(id).slice(0, 128)}" is registered at this gateway`);
    }
    if (owner !== undefined && getAddress(sensor.owner) !== owner) {
      throw new TypeError(`The sensors of a stream must have one owner: "${id}" belongs to ${sensor.owner}`);
    }
    owner = getAddress(sensor.owner);
  }
  const me = x.identity.account.address;
  if (owner === me) return { owner, account: x.identity.account, proxy: false };
  if (x.owners.isProxy(owner!)) {
    return { owner: owner!, account: await x.owners.account(owner!), proxy: true };
  }
  throw new OwnerStateError(
    `The sensors' owner ${owner} holds their own key: they list the stream from their own wallet`,
  );
}

/** Builds and signs (as the owner) the manifest of a new stream; the stream id is its CID. */
export async function buildStreamManifest(
  x: PublishComponents,
  fields: PublishStreamFields,
): Promise<
  { manifest: StreamManifest; bytes: Uint8Array; streamId: string; owner: Address; proxy: boolean }
> {
  const { owner, account, proxy } = await ownerOf(x, fields.sensors);
  const body: StreamManifestBody = {
    v: 1,
    title: typeof fields.title === "string" ? fields.title.trim() : fields.title,
    description: fields.description ?? "",
    owner,
    gateway: x.identity.account.address,
    publisherPeer: x.p2p.peerId.toString(),
    sensors: fields.sensors.map((id) => {
      const s = x.sensors.get(id)!;
      return {
        sensorId: s.sensorId,
        label: s.label,
        owner: getAddress(s.owner),
        sensorKey: s.sensorKey,
        issuedAt: s.issuedAt,
        attestation: s.attestation,
      };
    }),
    schema: fields.schema,
    pricePerHour: fields.pricePerHour,
    epochSeconds: fields.epochSeconds ?? DEFAULT_EPOCH_SECONDS,
    licence: fields.licence,
    createdAt: Date.now(),
  };
  let manifest: StreamManifest;
  try {
    manifest = await signStreamManifest(account, body);
  } catch (err) {
    if ((err as Error).name === "StreamProtocolError") {
      throw new TypeError((err as Error).message, { cause: err });
    }
    throw err;
  }
  const { bytes, streamId } = encodeStreamManifest(manifest);
  return { manifest, bytes, streamId, owner, proxy };
}

/**
 * Lists the stream on the registry from its owner's wallet with `stake` (default the registry's minimum),
 * funding a proxy first; a proxy then approves this node as the listing's escrow delegate.
 */
export async function listStreamAsOwner(
  x: PublishComponents,
  stream: { streamId: string; owner: Address; proxy: boolean },
  options: { stake?: bigint; signal?: AbortSignal } = {},
): Promise<{ listingId: bigint; stake: bigint }> {
  const { chain, owners, log } = x;
  const signal = options.signal;
  const stake = options.stake ?? (await getRegistryConfig(chain.client)).minStake;
  if (!stream.proxy) {
    const { listingId } = await chain.exclusive(() =>
      listStream(chain.client, { streamId: stream.streamId, stake, signal })
    );
    log.info("listed a stream", { streamId: stream.streamId, listingId: listingId.toString() });
    return { listingId, stake };
  }
  const owner = stream.owner;
  await owners.fundGas(owner, { signal });
  await owners.fundTokens(owner, stake, { signal });
  const client = await owners.client(owner);
  const me = x.identity.account.address;
  const listingId = await owners.exclusive(owner, async () => {
    const { listingId } = await listStream(client, { streamId: stream.streamId, stake, signal });
    await setSaleDelegate(client, { listingId, delegate: me, signal });
    return listingId;
  });
  log.info("listed a stream for its owner", {
    streamId: stream.streamId,
    listingId: listingId.toString(),
    owner,
  });
  return { listingId, stake };
}

/** The fee of publishing, from the chain's current gas price and {@link PUBLISH_STREAM_GAS}. */
export async function estimatePublishFee(x: PublishComponents): Promise<FeeEstimate> {
  const fees = await estimateFeesPerGas(x.chain.client);
  return toFeeEstimate(PUBLISH_STREAM_GAS, fees);
}

/**
 * Streams for the epochs tests: a manifest whose sensors the gateway wallet attested and whose owner signed
 * it, its bytes and id, and a signed announcement of it. Readings of a numeric temperature schema.
 */
import type { LocalAccount } from "viem/accounts";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  encodeStreamManifest,
  signSensorAttestation,
  signStreamAnnouncement,
  signStreamManifest,
  type StreamAnnouncement,
  type StreamManifest,
  type StreamReading,
  type StreamSensor,
} from "../../../protocol/streams.ts";

type Signer = Pick<LocalAccount, "address" | "signMessage" | "signTypedData">;

export interface TestStream {
  manifest: StreamManifest;
  bytes: Uint8Array;
  streamId: string;
  owner: Signer;
  announcement: StreamAnnouncement;
}

export const SCHEMA = [{ name: "temperature", type: "number" as const }, {
  name: "ok",
  type: "boolean" as const,
}];

/** A stream of `sensors` published by `gateway` (its wallet) from `publisherPeer`. */
export async function makeStream(options: {
  gateway: Signer;
  publisherPeer: string;
  chainId: number;
  epochSeconds?: number;
  sensors?: string[];
  owner?: Signer;
  createdAt?: number;
  listingId?: string | null;
}): Promise<TestStream> {
  const owner = options.owner ?? privateKeyToAccount(generatePrivateKey());
  const issuedAt = Date.now();
  const sensors: StreamSensor[] = [];
  for (const sensorId of options.sensors ?? ["s1", "s2"]) {
    const attestation = {
      sensorId,
      owner: owner.address,
      gateway: options.gateway.address,
      sensorKey: null,
      issuedAt,
    };
    sensors.push({
      sensorId,
      label: `Sensor ${sensorId}`,
      owner: owner.address,
      sensorKey: null,
      issuedAt,
      attestation: await signSensorAttestation(options.gateway, attestation, options.chainId),
    });
  }
  const manifest = await signStreamManifest(owner, {
    v: 1,
    title: "Street temperatures",
    description: "Two thermometers",
    owner: owner.address,
    gateway: options.gateway.address,
    publisherPeer: options.publisherPeer,
    sensors,
    schema: SCHEMA,
    pricePerHour: "3600",
    epochSeconds: options.epochSeconds ?? 2,
    licence: "kosmos-research-1",
    createdAt: options.createdAt ?? Date.now(),
  });
  const { bytes, streamId } = encodeStreamManifest(manifest);
  const announcement = await signStreamAnnouncement(owner, {
    v: 1,
    type: "stream",
    streamId,
    manifest: bytes,
    listingId: options.listingId ?? null,
    timestamp: Date.now(),
  });
  return { manifest, bytes, streamId, owner, announcement };
}

/** `count` readings of `sensorId` from `ts`, `step` ms apart. */
export function makeReadings(sensorId: string, ts: number, count: number, step = 100): StreamReading[] {
  return Array.from({ length: count }, (_, i) => ({
    sensorId,
    ts: ts + i * step,
    values: { temperature: 20 + ((i * 7) % 50) / 10, ok: i % 3 !== 0 },
  }));
}

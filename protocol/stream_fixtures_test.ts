/**
 * One stream for the codec tests of `stream_messages.ts` and `stream_protocols.ts`: a manifest of one sensor
 * (attested by the gateway wallet, signed by the owner's), its bytes and stream id, and an announcement of it.
 * The wallets are fresh on every run.
 *
 * ```ts
 * const { manifest, bytes, streamId } = await signedStream("title");
 * const announcement = await announceStream("title"); // signed by the owner, not listed yet
 * ```
 */
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  encodeStreamManifest,
  signSensorAttestation,
  signStreamAnnouncement,
  signStreamManifest,
  type StreamAnnouncement,
  type StreamManifest,
} from "./streams.ts";

export const CHAIN = 31337;
export const NOW = 1_800_000_000_000;
export const gateway = privateKeyToAccount(generatePrivateKey());
export const owner = privateKeyToAccount(generatePrivateKey());

/** A stream titled `title` of one integer column `v`, sensor `s1`, 60 s epochs. */
export async function signedStream(
  title = "t",
): Promise<{ manifest: StreamManifest; bytes: Uint8Array; streamId: string }> {
  const a = {
    sensorId: "s1",
    owner: owner.address,
    gateway: gateway.address,
    sensorKey: null,
    issuedAt: NOW,
  };
  const manifest = await signStreamManifest(owner, {
    v: 1,
    title,
    description: "",
    owner: owner.address,
    gateway: gateway.address,
    publisherPeer: "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf",
    sensors: [{
      sensorId: "s1",
      label: "",
      owner: owner.address,
      sensorKey: null,
      issuedAt: NOW,
      attestation: await signSensorAttestation(gateway, a, CHAIN),
    }],
    schema: [{ name: "v", type: "integer" }],
    pricePerHour: "10",
    epochSeconds: 60,
    licence: "CC0-1.0",
    createdAt: NOW,
  });
  return { manifest, ...encodeStreamManifest(manifest) };
}

/** The owner's announcement of {@link signedStream}`(title)`, not listed, at `NOW`. */
export async function announceStream(title: string): Promise<StreamAnnouncement> {
  const { bytes, streamId } = await signedStream(title);
  return await signStreamAnnouncement(owner, {
    v: 1,
    type: "stream",
    streamId,
    manifest: bytes,
    listingId: null,
    timestamp: NOW,
  });
}

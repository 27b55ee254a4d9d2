/**
 * The one module that imports the gossipsub implementation. `@libp2p/gossipsub`
 * is the libp2p team's build of ChainSafe's gossipsub for libp2p 3; when
 * `@chainsafe/libp2p-gossipsub` supports libp2p 3 again, only this file changes.
 * `fastMessageId` is the message-id shortcut `mod.ts` configures it with, and
 * `gossipsub()` applies the per-peer limits below.
 */
import { gossipsub as libp2pGossipsub, type GossipsubOpts } from "@libp2p/gossipsub";

export { TopicValidatorResult } from "@libp2p/gossipsub";
export type { GossipSub, GossipsubOpts, Message as GossipMessage } from "@libp2p/gossipsub";

/**
 * Topics a peer may occupy in this node's subscription table (gossipsub
 * charges each topic its length plus 1 KiB, against `maxTopicBytesPerPeer`).
 * Kosmos peers subscribe to 14 fixed topics (one per listing category, pools,
 * sites, the stream catalog) and one per live stream they receive; the table
 * grows with peers and streams, never with listings. The library's default
 * budget (1 MiB, about 1,000 topics) would let each of 200 peers park ~1,000
 * subscriptions here; 256 leaves a peer room for 242 live streams.
 */
export const MAX_TOPICS_PER_PEER = 256;

/** The gossipsub options that bound what one peer can make this node hold. */
export const GOSSIP_PEER_LIMITS = {
  maxTopicBytesPerPeer: MAX_TOPICS_PER_PEER * 1024,
} satisfies Partial<GossipsubOpts>;

/** The gossipsub service with {@link GOSSIP_PEER_LIMITS} unless `options` set them. */
export function gossipsub(options: Partial<GossipsubOpts> = {}): ReturnType<typeof libp2pGossipsub> {
  return libp2pGossipsub({ ...GOSSIP_PEER_LIMITS, ...options });
}

/** Author and seqno of a gossip message as a string: its message id under StrictSign, without decoding the key. */
export function fastMessageId(msg: { from?: Uint8Array; seqno?: Uint8Array }): string {
  if (!msg.from || !msg.seqno) return crypto.randomUUID(); // invalid under StrictSign; never cached
  return `${toHex(msg.from)}/${toHex(msg.seqno)}`;
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * The one module that imports the gossipsub implementation. `@libp2p/gossipsub`
 * is the libp2p team's build of ChainSafe's gossipsub for libp2p 3; when
 * `@chainsafe/libp2p-gossipsub` supports libp2p 3 again, only this file changes.
 * `fastMessageId` is the message-id shortcut `mod.ts` configures it with.
 */
export { gossipsub, TopicValidatorResult } from "@libp2p/gossipsub";
export type { GossipSub, GossipsubOpts, Message as GossipMessage } from "@libp2p/gossipsub";

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

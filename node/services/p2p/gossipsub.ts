/**
 * The one module that imports the gossipsub implementation. `@libp2p/gossipsub`
 * is the libp2p team's build of ChainSafe's gossipsub for libp2p 3; when
 * `@chainsafe/libp2p-gossipsub` supports libp2p 3 again, only this file changes.
 */
export { gossipsub, TopicValidatorResult } from "@libp2p/gossipsub";
export type { GossipSub, GossipsubOpts, Message as GossipMessage } from "@libp2p/gossipsub";

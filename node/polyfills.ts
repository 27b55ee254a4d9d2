/**
 * Process-wide fixes that must run before libp2p loads. Import this module
 * first (it has no exports). A lock library in libp2p keeps a global
 * `BroadcastChannel` open, which keeps a Deno process alive after
 * `node.stop()`; Node's implementation can be unref'd and does not.
 */
import { BroadcastChannel as NodeBroadcastChannel } from "node:worker_threads";

(globalThis as { BroadcastChannel: unknown }).BroadcastChannel = NodeBroadcastChannel;

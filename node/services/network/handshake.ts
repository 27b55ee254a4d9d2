/**
 * The network handshake: every node answers `/kosmos/network/1.0.0` with its
 * network (name, chain id, contracts, protocol prefix), and asks each peer
 * that identify says speaks it. A peer on another network is told about in
 * one log line, remembered, and hung up on: this node never trades with it,
 * and its listings never reach the catalog (its topics and protocol ids carry
 * another prefix anyway).
 *
 * ```ts
 * const hs = createHandshake({ network, p2p, log });
 * await hs.start();
 * hs.isForeign(peerId); // true once a peer said it is on another network
 * ```
 */
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Connection, IdentifyResult, Stream } from "@libp2p/interface";
import {
  decodeNetworkHello,
  describeNetwork,
  encodeNetworkHello,
  isSameNetwork,
  MAX_NETWORK_HELLO_BYTES,
  NETWORK_PROTOCOL,
  type NetworkHello,
} from "../../../protocol/network.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { defineService } from "../../service.ts";
import { second } from "../../constants.ts";
import type { NetworkService } from "./mod.ts";
import { isLoopbackAddr } from "./loopback.ts";

/** What a peer said about its network. */
export interface PeerNetwork {
  peerId: string;
  hello: NetworkHello;
  /** Whether it is this node's network. */
  same: boolean;
}

export interface HandshakeComponents {
  network: NetworkService;
  p2p: P2P;
  log: Logger;
}

export interface HandshakeInit {
  /** Milliseconds one exchange may take. @default 10,000 */
  timeout?: number;
}

/** The `handshake` component. */
export function handshake(init: HandshakeInit = {}) {
  return defineService("handshake", ["network", "p2p"], (c: HandshakeComponents) => createHandshake(c, init));
}

export function createHandshake(components: HandshakeComponents, init: HandshakeInit = {}): Handshake {
  return new Handshake(components, init);
}

/**
 * Asks a peer its network on a `/kosmos/network/1.0.0` stream: sends `own` (this node's hello, or an
 * empty frame from a node that has no network yet), reads the peer's, then closes the stream.
 */
export async function readPeerHello(
  stream: Stream,
  options: { signal: AbortSignal; own?: NetworkHello },
): Promise<NetworkHello> {
  const lp = lpStream(stream, { maxDataLength: MAX_NETWORK_HELLO_BYTES });
  try {
    await lp.write(options.own ? encodeNetworkHello(options.own) : new Uint8Array(), {
      signal: options.signal,
    });
    const hello = decodeNetworkHello((await lp.read({ signal: options.signal })).subarray());
    await stream.close({ signal: options.signal }).catch(() => {});
    return hello;
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
}

export class Handshake {
  #c: HandshakeComponents;
  #timeout: number;
  #peers = new Map<string, PeerNetwork>();
  #told = new Map<string, string>();
  #asking = new Set<string>();
  #controller?: AbortController;

  constructor(components: HandshakeComponents, init: HandshakeInit) {
    this.#c = components;
    this.#timeout = init.timeout ?? 10 * second;
  }

  async start(): Promise<void> {
    this.#controller = new AbortController();
    const libp2p = this.#c.p2p.libp2p;
    await libp2p.handle(NETWORK_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    });
    libp2p.addEventListener("peer:identify", this.#onIdentify);
  }

  async stop(): Promise<void> {
    this.#controller?.abort();
    try {
      const libp2p = this.#c.p2p.libp2p;
      libp2p.removeEventListener("peer:identify", this.#onIdentify);
      await libp2p.unhandle(NETWORK_PROTOCOL);
    } catch { /* p2p already stopped */ }
  }

  /** What `peerId` said about its network, if it was asked. */
  peerNetwork(peerId: string): PeerNetwork | undefined {
    return this.#peers.get(peerId);
  }

  /** Whether `peerId` said it is on another network. */
  isForeign(peerId: string): boolean {
    return this.#peers.get(peerId)?.same === false;
  }

  /** Peers known to be on another network. */
  foreignPeers(): PeerNetwork[] {
    return [...this.#peers.values()].filter((p) => !p.same);
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.#timeout);
    const lp = lpStream(stream, { maxDataLength: MAX_NETWORK_HELLO_BYTES });
    let theirs: NetworkHello | undefined;
    try {
      const request = (await lp.read({ signal })).subarray();
      // A node that has no network yet (one deciding whether to join) sends an empty frame.
      if (request.length > 0) theirs = decodeNetworkHello(request);
      const hello = this.#c.network.hello({ loopbackPeer: isLoopbackAddr(connection.remoteAddr.toString()) });
      await lp.write(encodeNetworkHello(hello), { signal });
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
      return;
    }
    if (theirs) await this.#judge(connection.remotePeer.toString(), theirs);
  }

  #onIdentify = (evt: CustomEvent<IdentifyResult>) => {
    const { peerId, protocols } = evt.detail;
    if (protocols.includes(NETWORK_PROTOCOL)) void this.#ask(peerId.toString());
  };

  async #ask(peerId: string): Promise<void> {
    if (this.#asking.has(peerId) || !this.#controller) return;
    this.#asking.add(peerId);
    const { p2p, network, log } = this.#c;
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(this.#timeout), this.#controller.signal]);
      const connection = p2p.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId);
      if (!connection) return;
      const stream = await connection.newStream(NETWORK_PROTOCOL, { signal });
      const hello = await readPeerHello(stream, { signal, own: network.hello({ loopbackPeer: false }) });
      await this.#judge(peerId, hello);
    } catch (err) {
      log.debug("failed to ask a peer for its network", { peerId, error: err });
    } finally {
      this.#asking.delete(peerId);
    }
  }

  /** Remembers a peer's network; one on another network is told about once and hung up on. */
  async #judge(peerId: string, hello: NetworkHello): Promise<void> {
    const mine = this.#c.network.hello({ loopbackPeer: false });
    const same = isSameNetwork(hello, mine);
    this.#peers.set(peerId, { peerId, hello, same });
    if (same) return;
    const theirs = describeNetwork(hello);
    if (this.#told.get(peerId) !== theirs) {
      this.#told.set(peerId, theirs);
      this.#c.log.warn(
        `peer ${peerId} is on network ${theirs}, this node is on ${
          describeNetwork(mine)
        }: not trading with it`,
      );
    }
    const signal = AbortSignal.timeout(this.#timeout);
    await this.#c.p2p.libp2p.hangUp(peerIdFromString(peerId), { signal }).catch(() => {});
  }
}

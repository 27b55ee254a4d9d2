/**
 * Real libp2p hosts on loopback for the tests of `/kosmos/streams/1.0.0` (epoch queries and stream lists),
 * each with a real SQLite stream catalog and the protocol: the first host serves, every other one is dialed
 * to each host before it. {@link answerWith} turns a host into a liar that answers whatever a test sets.
 *
 * ```ts
 * await using net = await startProtocolHosts(2, { listBurst: 2 });
 * const [server, asker] = net.hosts;
 * await asker.protocol.syncStreams(server.peerId);
 * ```
 */
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { STREAMS_PROTOCOL } from "../../../protocol/streams.ts";
import { createLogger } from "../../log.ts";
import { type Database, openDatabase } from "../db/mod.ts";
import { loadIdentity } from "../identity/mod.ts";
import { createP2P, type P2P } from "../p2p/mod.ts";
import { StreamCatalog } from "./catalog.ts";
import { StreamsProtocol, type StreamsProtocolInit } from "./protocol_handler.ts";

export const CHAIN_ID = 31337;
const log = createLogger({ level: "error" }).forComponent("kosmos:streams");

export interface ProtocolHost {
  p2p: P2P;
  catalog: StreamCatalog;
  protocol: StreamsProtocol;
  peerId: string;
}

export interface ProtocolHosts extends AsyncDisposable {
  hosts: ProtocolHost[];
}

/**
 * Starts `count` hosts, the first one's protocol with `init` (and a 5 s timeout on all). Disposing stops
 * them and removes their directories.
 */
export async function startProtocolHosts(
  count: number,
  init: StreamsProtocolInit = {},
): Promise<ProtocolHosts> {
  const dirs: string[] = [];
  const started: { host: ProtocolHost; db: Database }[] = [];
  const dispose = async () => {
    for (const { host, db } of started) {
      await host.protocol.stop();
      await host.p2p.stop();
      db.close();
    }
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const dir = await Deno.makeTempDir({ prefix: "kosmos-streams-protocol-" });
      dirs.push(dir);
      const identity = await loadIdentity(dir);
      const p2p = createP2P({ identity, log }, { listen: ["/ip4/127.0.0.1/tcp/0"] });
      await p2p.start();
      const db = openDatabase(":memory:");
      const catalog = new StreamCatalog({ db, p2p, identity, chain: { chainId: CHAIN_ID }, log });
      const protocol = new StreamsProtocol({ p2p, catalog, log }, { timeout: 5000, ...init });
      started.push({ host: { p2p, catalog, protocol, peerId: p2p.peerId.toString() }, db });
    }
    const hosts = started.map((s) => s.host);
    await hosts[0].protocol.start();
    for (let i = 1; i < count; i++) {
      for (const earlier of hosts.slice(0, i)) {
        await hosts[i].p2p.libp2p.dial(multiaddr(earlier.p2p.listenAddresses()[0]));
      }
    }
    return { hosts, [Symbol.asyncDispose]: dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/**
 * Makes `host` a liar: its own protocol stopped, each request it is sent is handed to `answer`, and what
 * `answer` returns is written back as the response.
 */
export async function answerWith(
  host: ProtocolHost,
  answer: (request: Uint8Array) => Uint8Array,
): Promise<void> {
  await host.protocol.stop();
  await host.p2p.handle(STREAMS_PROTOCOL, async (stream) => {
    const lp = lpStream(stream);
    await lp.write(answer((await lp.read()).subarray()));
    await stream.close();
  });
}

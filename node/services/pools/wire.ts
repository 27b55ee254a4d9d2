/**
 * One exchange of `/kosmos/pool/1.0.0`: the asking side writes one request frame and reads one response
 * frame; the serving side reads one request (capped at `MAX_POOL_REQUEST_BYTES`), answers, and closes.
 *
 * ```ts
 * const response = await askPeer(p2p, peerId, { v: 1, type: "announcements" }, { signal });
 * await p2p.handle(POOL_PROTOCOL, (stream, connection) => servePoolStream(stream, connection, answer, { timeout, log }));
 * ```
 */
import type { Connection, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import {
  decodePoolRequest,
  decodePoolResponse,
  encodePoolRequest,
  encodePoolResponse,
  MAX_POOL_REQUEST_BYTES,
  MAX_POOL_RESPONSE_BYTES,
  POOL_PROTOCOL,
  type PoolRequest,
  type PoolResponse,
} from "../../../protocol/pools.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";

/** Sends `request` to `peerId` and resolves with its checked response; throws on a broken exchange. */
export async function askPeer(
  p2p: P2P,
  peerId: string,
  request: PoolRequest,
  options: { signal: AbortSignal; maxResponseBytes?: number },
): Promise<PoolResponse> {
  const { signal } = options;
  const stream = await p2p.dialProtocol(peerIdFromString(peerId), POOL_PROTOCOL, { signal });
  try {
    const max = options.maxResponseBytes ?? MAX_POOL_RESPONSE_BYTES;
    // The read buffer must hold a whole frame: its 4 MiB default would refuse a contribution under the cap.
    const lp = lpStream(stream, { maxDataLength: max, maxBufferSize: max + 1024 });
    await lp.write(encodePoolRequest(request), { signal });
    const response = decodePoolResponse((await lp.read({ signal })).subarray());
    await stream.close({ signal }).catch(() => {});
    return response;
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
}

/**
 * Serves one stream: decodes the request, answers with `answer(request, remotePeer)` (a malformed request
 * gets a `bad-request` refusal), and closes. Never throws.
 */
export async function servePoolStream(
  stream: Stream,
  connection: Connection,
  answer: (request: PoolRequest, remotePeer: string, signal: AbortSignal) => Promise<PoolResponse>,
  options: { timeout: number; signal: AbortSignal; log: Logger },
): Promise<void> {
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeout), options.signal]);
  const remotePeer = connection.remotePeer.toString();
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_POOL_REQUEST_BYTES });
    let response: PoolResponse;
    try {
      const request = decodePoolRequest((await lp.read({ signal })).subarray());
      response = await answer(request, remotePeer, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      options.log.debug("refused a pool request", { peerId: remotePeer, error: err });
      response = { v: 1, error: { code: "bad-request", message: (err as Error).message.slice(0, 200) } };
    }
    await lp.write(encodePoolResponse(response), { signal });
    await stream.close({ signal });
  } catch (err) {
    stream.abort(err as Error);
  }
}

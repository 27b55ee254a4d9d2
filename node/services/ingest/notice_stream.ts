/**
 * One outbound `/kosmos/ingest/2.0.0` stream to a peer: batch notices are
 * sent one at a time, each answered by the peer's reply, under
 * `timeout` ms per notice. A failed send aborts the stream.
 *
 * ```ts
 * const notices = await NoticeStream.open(p2p, ownerPeerId, 10_000, signal);
 * const reply = await notices.send({ v: 2, op: "deliver", cid, site }); // { ack: cid } | { retry } | { reject }
 * await notices.close();
 * ```
 */
import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import {
  type BatchNotice,
  type BatchReply,
  decodeBatchReply,
  encodeBatchNotice,
  INGEST_BLOCKS_PROTOCOL,
  MAX_BATCH_NOTICE_BYTES,
} from "../../../protocol/ingest.ts";
import type { P2P } from "../p2p/mod.ts";
import { second } from "../../constants.ts";

/** One outbound notice stream; notices are sent one at a time. */
export class NoticeStream {
  #stream: Stream;
  #lp;
  #timeout: number;
  #signal: AbortSignal;
  #closed = false;

  private constructor(stream: Stream, timeout: number, signal: AbortSignal) {
    this.#stream = stream;
    this.#timeout = timeout;
    this.#signal = signal;
    this.#lp = lpStream(stream, { maxDataLength: MAX_BATCH_NOTICE_BYTES });
  }

  static async open(p2p: P2P, peerId: string, timeout: number, signal: AbortSignal): Promise<NoticeStream> {
    const stream = await p2p.dialProtocol(peerIdFromString(peerId), INGEST_BLOCKS_PROTOCOL, {
      signal: AbortSignal.any([AbortSignal.timeout(timeout), signal]),
    });
    return new NoticeStream(stream, timeout, signal);
  }

  async send(notice: BatchNotice): Promise<BatchReply> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#timeout), this.#signal]);
    try {
      await this.#lp.write(encodeBatchNotice(notice), { signal });
      return decodeBatchReply((await this.#lp.read({ signal })).subarray());
    } catch (err) {
      this.#closed = true;
      this.#stream.abort(err as Error);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#stream.close({ signal: AbortSignal.timeout(5 * second) });
    } catch (err) {
      this.#stream.abort(err as Error);
    }
  }
}

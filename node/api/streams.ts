/**
 * Streams and subscriptions (`StreamsApi`): the streams service's records mapped to views (amounts and
 * listing ids as decimal strings, times in ms); the logic is the service's.
 */
import type { EpochView, StreamsApi, StreamView, SubscriptionView } from "../../protocol/api/streams.ts";
import type { EpochInfo, StreamInfo, Streams, SubscriptionState } from "../services/streams/mod.ts";
import { toFeeView } from "./fees.ts";

export interface StreamsApiComponents {
  streams: Streams;
}

export function createStreamsApi(c: StreamsApiComponents): StreamsApi {
  const { streams } = c;
  return {
    listStreams() {
      return Promise.resolve({ streams: streams.listStreams().map(toStreamView) });
    },
    getStream(id) {
      return Promise.resolve(toStreamView(streams.getStream(id)));
    },
    async publishStream(fields, options = {}) {
      return toStreamView(await streams.publishStream(fields, options));
    },
    async previewPublishStream(fields) {
      const { fee } = await streams.previewPublishStream(fields);
      return { preview: true, fee: toFeeView(fee) };
    },
    async subscribe(fields, options = {}) {
      return toSubscriptionView(await streams.subscribe(fields, options));
    },
    async previewSubscribe(fields, options = {}) {
      const p = await streams.subscriptions.previewSubscribe(fields, options);
      return {
        preview: true,
        fee: toFeeView(p.fee),
        streamId: fields.streamId,
        epochs: { first: p.first, last: p.last },
        from: p.from,
        to: p.to,
        price: p.price.toString(),
      };
    },
    async renewSubscription(id, body, options = {}) {
      return toSubscriptionView(await streams.subscriptions.renew(id, body.seconds, options));
    },
    async previewRenewSubscription(id, body, options = {}) {
      const p = await streams.subscriptions.previewRenew(id, body.seconds, options);
      return {
        preview: true,
        fee: toFeeView(p.fee),
        subscriptionId: id,
        streamId: streams.subscriptions.describe(id).record.streamId,
        epochs: { first: p.first, last: p.last },
        from: p.from,
        to: p.to,
        price: p.price.toString(),
      };
    },
    listSubscriptions() {
      return Promise.resolve({ subscriptions: streams.subscriptions.list().map(toSubscriptionView) });
    },
    getSubscription(id) {
      return Promise.resolve(toSubscriptionView(streams.subscriptions.describe(id)));
    },
    watchReadings(id, options) {
      return Promise.resolve(streams.watchReadings(id, options.signal));
    },
    async readEpoch(id, epoch, options = {}) {
      return await streams.readEpoch(id, epoch, options);
    },
  };
}

export function toStreamView(info: StreamInfo): StreamView {
  const { row, manifest } = info;
  return {
    id: row.streamId,
    listingId: row.listingId,
    title: manifest.title,
    description: manifest.description,
    owner: manifest.owner,
    gateway: manifest.gateway,
    publisherPeer: manifest.publisherPeer,
    sensors: manifest.sensors.map((s) => ({ sensorId: s.sensorId, owner: s.owner, label: s.label })),
    schema: manifest.schema.map((col) => ({ name: col.name, type: col.type })),
    pricePerHour: manifest.pricePerHour,
    epochSeconds: manifest.epochSeconds,
    licence: manifest.licence,
    createdAt: manifest.createdAt,
    mine: row.mine,
    epochs: info.epochs.map(toEpochView),
  };
}

function toEpochView(e: EpochInfo): EpochView {
  return {
    epoch: e.epoch,
    start: e.start,
    end: e.end,
    manifestCid: e.manifestCid,
    contentCid: e.contentCid,
    rows: e.rows,
    keyHeld: e.keyHeld,
    anchored: e.anchored,
  };
}

export function toSubscriptionView(s: SubscriptionState): SubscriptionView {
  return {
    id: s.record.id,
    streamId: s.record.streamId,
    title: s.record.title,
    from: s.from,
    to: s.to,
    status: s.status,
    epochs: s.epochs,
    paid: s.paid.toString(),
    saleIds: s.saleIds,
    received: s.record.received,
    lastReadingAt: s.record.lastReadingAt ?? null,
    error: s.error,
  };
}

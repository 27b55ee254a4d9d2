/**
 * The MQTT connector: publishes each reading of a batch as JSON `{ streamId, epoch, sensorId, ts, values }`
 * on the target's topic, QoS 1, on the subscriber's own broker, and resolves once the broker acknowledged
 * every one (PUBACK). The client connects on the first batch and stays connected; a failed batch drops the
 * connection so the next try starts afresh. At least once: a consumer that must not see a reading twice keys it
 * by `(sensorId, ts)`.
 *
 * ```ts
 * const connector = mqttReadingsConnector({ url: "mqtt://127.0.0.1:1883/plant/readings" });
 * await connector.deliver(batch, { progress: {} });
 * await connector.close();
 * ```
 */
import mqtt, { type MqttClient } from "mqtt";
import { DeliveryError } from "./connector.ts";
import type { ReadingsConnector } from "./readings_connector.ts";
import {
  checkWebhookTarget,
  type DeliveryPolicy,
  parseReadingsTarget,
  redactReadingsTarget,
} from "./targets.ts";

export interface MqttReadingsConnectorInit {
  /** `mqtt://[user:pass@]host:port/topic` or `mqtts://…`. */
  url: string;
  /** Hosts the broker may be on although not public, and the resolver. @default {}: public hosts only */
  policy?: Pick<DeliveryPolicy, "webhookAllow" | "lookup">;
  /** Milliseconds to connect and to have a batch acknowledged. @default 10000 */
  timeout?: number;
}

export function mqttReadingsConnector(init: MqttReadingsConnectorInit): ReadingsConnector {
  const target = parseReadingsTarget(init.url);
  if (target.connector !== "mqtt") {
    throw new TypeError("mqttReadingsConnector needs an mqtt:// or mqtts:// URL");
  }
  const shown = redactReadingsTarget(target);
  const timeout = init.timeout ?? 10_000;
  const url = new URL(init.url);
  const broker = `${url.protocol}//${url.host}`;
  let client: MqttClient | undefined;

  const drop = async () => {
    const c = client;
    client = undefined;
    await c?.endAsync(true).catch(() => {});
  };

  return {
    name: "mqtt",
    async deliver(batch, options) {
      options.signal?.throwIfAborted();
      const signal = AbortSignal.any(
        [AbortSignal.timeout(timeout), options.signal].filter((s) => s !== undefined),
      );
      try {
        await checkWebhookTarget(url, init.policy ?? {});
        client ??= await withSignal(
          mqtt.connectAsync(broker, {
            username: url.username ? decodeURIComponent(url.username) : undefined,
            password: url.password ? decodeURIComponent(url.password) : undefined,
            reconnectPeriod: 0,
            connectTimeout: timeout,
            clean: true,
          }),
          signal,
        );
        const c = client;
        // Errors after the connection is up surface as failed publishes; the event must not go unheard.
        if (c.listenerCount("error") === 0) c.on("error", () => {});
        await withSignal(
          Promise.all(batch.readings.map((r) =>
            c.publishAsync(
              target.topic,
              JSON.stringify({
                streamId: batch.streamId,
                epoch: batch.epoch,
                sensorId: r.sensorId,
                ts: r.ts,
                values: r.values,
              }),
              { qos: 1 },
            )
          )),
          signal,
        );
      } catch (cause) {
        await drop();
        options.signal?.throwIfAborted();
        throw new DeliveryError(
          `Cannot publish batch ${batch.seq} to ${shown}: ${(cause as Error).message}`,
          { cause },
        );
      }
    },
    close: drop,
  };
}

/** `promise`, or a rejection with the signal's reason when it aborts first. */
function withSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * A real node on its embedded chain with a {@link Gateway} over its components (its SQLite, chain and
 * wallet), whose streams are set by the test (`defineStream`, as the streams table would list them)
 * and whose accepted readings are collected (`accepted`), plus the node's HTTP app with the gateway's
 * routes: `app` as the owner, `open` without any token.
 *
 * ```ts
 * await using g = await startGatewayNode("kosmos-gateway-");
 * const owner = await g.gateway.createOwner("Greenhouse");
 * await g.gateway.registerSensor({ sensorId: "s1", owner: owner.address });
 * g.defineStream("s1", { streamId: "bafy…", schema: [{ name: "temp", type: "number" }], epochSeconds: 60 });
 * ```
 */
import type { KosmosApi } from "../protocol/api/mod.ts";
import type { StoredReading } from "../protocol/streams.ts";
import { createGatewayApi } from "../node/api/gateway.ts";
import { Gateway, type GatewayInit } from "../node/services/streams/gateway.ts";
import type { SensorStream } from "../node/services/streams/ingest.ts";
import { createApp } from "../web/app.ts";
import { ownerApp, type RequestableApp } from "./helpers.ts";
import { type AppNode, startAppNode } from "./node_app.ts";

const quietLog = { error: () => {}, debug: () => {} };

export interface GatewayNode extends AsyncDisposable {
  node: AppNode["node"];
  gateway: Gateway;
  /** The app with the owner's token. */
  app: RequestableApp;
  /** The app without any credential. */
  open: RequestableApp;
  /** What `onAccepted` was handed, in order. */
  accepted: { streamId: string; readings: StoredReading[] }[];
  /** Makes `sensorId` a sensor of a stream (what the stream's manifest would say). */
  defineStream(sensorId: string, stream: SensorStream): void;
  /** A new Gateway over the same components (a restart of the gateway on the same data dir). */
  restart(): Promise<Gateway>;
}

export async function startGatewayNode(prefix: string, init: GatewayInit = {}): Promise<GatewayNode> {
  const started = await startAppNode(prefix);
  const { node } = started;
  const streams = new Map<string, SensorStream>();
  const accepted: GatewayNode["accepted"] = [];
  const hooks = {
    streamOfSensor: (id: string) => streams.get(id),
    onAccepted: (streamId: string, readings: StoredReading[]) => accepted.push({ streamId, readings }),
  };
  const c = node.components;
  const components = {
    db: c.db,
    chain: c.chain,
    identity: c.identity,
    dataDir: node.config.dataDir,
    log: c.logger.forComponent("kosmos:gateway"),
  };
  let gateway = new Gateway(components, hooks, init);
  const holder = { gateway };
  const makeFacade = () => ({ ...node.facade, ...createGatewayApi({ streams: holder }) }) as KosmosApi;
  try {
    await gateway.start();
  } catch (err) {
    await started[Symbol.asyncDispose]();
    throw err;
  }
  const result: GatewayNode = {
    node,
    get gateway() {
      return holder.gateway;
    },
    app: ownerApp(createApp(makeFacade(), { log: quietLog, auth: node.auth }), node),
    open: createApp(makeFacade(), { log: quietLog, auth: node.auth }),
    accepted,
    defineStream: (sensorId, stream) => void streams.set(sensorId, stream),
    async restart() {
      await holder.gateway.stop();
      gateway = new Gateway(components, hooks, init);
      holder.gateway = gateway;
      await gateway.start();
      return gateway;
    },
    async [Symbol.asyncDispose]() {
      try {
        await holder.gateway.stop();
      } finally {
        await started[Symbol.asyncDispose]();
      }
    },
  };
  return result;
}

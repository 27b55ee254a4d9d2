/**
 * The one shape of every part of a node, in the js-libp2p manner: a factory
 * declares the components it reads (`needs`), `composeServices` creates them in
 * list order after checking that each need is composed earlier, and a
 * {@link ServiceGroup} starts them in that order and stops them in reverse.
 *
 * ```ts
 * // node/services/replication/mod.ts
 * export interface ReplicationComponents {
 *   db: Database; blocks: BlockStore; p2p: P2P; transfer: Transfer; fetches: Fetches;
 *   config: { storage: { quotaGB: number } };
 * }
 * export function replication(init: ReplicationInit = {}) {
 *   return defineService("replication", ["db", "blocks", "p2p", "transfer", "fetches", "config"],
 *     (c: ReplicationComponents & { log: Logger }) =>
 *       new Replication({ ...c, quotaGB: c.config.storage.quotaGB }, init));
 * }
 *
 * // node/node.ts
 * const { components, services } = await composeServices({ config, logger, apiToken }, [db(), replication()]);
 * const group = new ServiceGroup(services, { log });
 * await group.start();
 * await group.stop();
 * group.close();
 * ```
 */
import type { NodeConfig } from "./config.ts";
import { StartError } from "./errors.ts";
import type { ComponentLogger, Logger } from "./log.ts";

/** Every part of a node. All three methods are optional. */
export interface Service {
  /** Protocol handlers, timers, migrations. Called once, in list order. */
  start?(): Promise<void>;
  /** Undoes start(). Called in reverse order, only if start() resolved. */
  stop?(): Promise<void>;
  /** Releases what the factory opened (SQLite, a worker). node.stop() always calls it, started or not. */
  close?(): void;
}

/** Built before any factory runs. */
export interface BaseComponents {
  config: NodeConfig;
  logger: ComponentLogger;
  /** The owner's API token. Never log it. */
  apiToken: string;
}

/**
 * js-libp2p's shape: `replication(init)` returns this; node.ts lists them. What `create` returns
 * is used as a {@link Service}: its `start`/`stop`/`close`, where present, follow that contract.
 * (`S` is any object, so that a component without any of the three, such as the identity, fits.)
 */
// deno-lint-ignore no-explicit-any
export interface ServiceFactory<N extends string = string, C = any, S extends object = object> {
  /** The key in `components`. */
  readonly name: N;
  /** Component names it reads; each must come earlier in the list (or be a base component). */
  readonly needs: readonly string[];
  /** Its logger's namespace. @default `kosmos:${name}` */
  readonly log: string;
  /** May open local files (db, keys, block dir). No network, no timers. */
  create(components: C & { log: Logger }): S | Promise<S>;
}

/** Declares a factory; `needs` is checked against the components type `C`. */
export function defineService<N extends string, C, S extends object>(
  name: N,
  needs: readonly (keyof C & string)[],
  create: (components: C & { log: Logger }) => S | Promise<S>,
  options: { log?: string } = {},
): ServiceFactory<N, C, S> {
  return { name, needs, log: options.log ?? `kosmos:${name}`, create };
}

/** The components a list composes: the base ones, then one key per factory. */
export type Composed<L extends readonly ServiceFactory[]> =
  & BaseComponents
  & { [F in L[number] as F["name"]]: Awaited<ReturnType<F["create"]>> };

const BASE_NAMES: readonly string[] = ["config", "logger", "apiToken"] satisfies (keyof BaseComponents)[];

/**
 * Runs the factories in list order. Dependencies are checked here, before anything is created:
 * a `needs` entry that is not composed earlier throws
 *   StartError('service "market" needs "delegation", which is not composed before it').
 * If a factory throws, what was already created is closed in reverse, and the error is rethrown.
 */
export async function composeServices<const L extends readonly ServiceFactory[]>(
  base: BaseComponents,
  list: L,
): Promise<{ components: Composed<L>; services: Service[] }> {
  checkOrder(list);
  const components: Record<string, unknown> = { ...base };
  const services: Service[] = [];
  try {
    for (const factory of list) {
      const service = await factory.create({ ...components, log: base.logger.forComponent(factory.log) });
      components[factory.name] = service;
      services.push(service as Service);
    }
  } catch (err) {
    closeAll(services, base.logger.forComponent("kosmos:node"));
    throw err;
  }
  return { components: components as Composed<L>, services };
}

/** Throws a {@link StartError} for a duplicate name or a need not composed before the factory that reads it. */
export function checkOrder(list: readonly ServiceFactory[]): void {
  const composed = new Set(BASE_NAMES);
  for (const factory of list) {
    if (composed.has(factory.name)) {
      throw new StartError(`service "${factory.name}" is composed twice`, {
        details: { name: factory.name },
      });
    }
    for (const need of factory.needs) {
      if (!composed.has(need)) {
        throw new StartError(`service "${factory.name}" needs "${need}", which is not composed before it`, {
          details: { name: factory.name, need },
        });
      }
    }
    composed.add(factory.name);
  }
}

/**
 * Starts services in list order and stops them in reverse. A failed start stops
 * what had started, then rethrows. `close()` releases every service, started or not.
 */
export class ServiceGroup {
  readonly #services: readonly Service[];
  readonly #log: Logger;
  #started: Service[] = [];
  #closed = false;

  constructor(services: readonly Service[], options: { log: Logger }) {
    this.#services = services;
    this.#log = options.log;
  }

  /** Calls each `start()` in order; if one throws, stops those that started (in reverse) and rethrows. */
  async start(): Promise<void> {
    this.#closed = false;
    try {
      for (const service of this.#services) {
        if (this.#started.includes(service)) continue;
        await service.start?.();
        this.#started.push(service);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Calls `stop()` in reverse on every service whose start resolved; a failure is logged, the rest still stop. */
  async stop(): Promise<void> {
    const started = this.#started.reverse();
    this.#started = [];
    for (const service of started) {
      try {
        await service.stop?.();
      } catch (err) {
        this.#log.warn("failed to stop service", { error: err });
      }
    }
  }

  /**
   * Calls `close()` in reverse on every service; a failure is logged, the rest still close.
   * A second call before the next `start()` does nothing (SQLite refuses to close twice).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeAll(this.#services, this.#log);
  }
}

function closeAll(services: readonly Service[], log: Logger): void {
  for (const service of [...services].reverse()) {
    try {
      service.close?.();
    } catch (err) {
      log.warn("failed to close service", { error: err });
    }
  }
}

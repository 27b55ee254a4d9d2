/**
 * The `http` service: the API and web UI (`web/app.ts`) on `config.host:config.port`,
 * the owner's token check and the login links. It comes last in `nodeServices()`,
 * so the node answers requests only once every other service has started.
 *
 * ```ts
 * const { components } = await composeServices(base, [...services, facade(), http()]);
 * await components.http.start();
 * components.http.url;               // http://127.0.0.1:8080
 * components.http.createLoginLink(); // http://127.0.0.1:8080/login?token=…
 * ```
 */
import type { KosmosApi } from "../protocol/api/mod.ts";
import { createApp } from "../web/app.ts";
import { type ApiAuth, createApiAuth } from "../web/auth.ts";
import { LOOPBACK_HOSTS } from "../web/request_guard.ts";
import { getUploadDir } from "../web/upload_spool.ts";
import type { NodeConfig } from "./config.ts";
import { StartError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { defineService } from "./service.ts";

export interface HttpComponents {
  /** What the routes call. */
  facade: KosmosApi;
  /** The owner's API token. Never log it. */
  apiToken: string;
  config: Pick<NodeConfig, "host" | "port" | "publicName" | "publicUrl" | "dataDir">;
  log: Logger;
}

/** The `http` component. */
export function http() {
  return defineService("http", ["facade", "apiToken", "config"], (c: HttpComponents) => new HttpService(c));
}

export class HttpService {
  /** Checks the token and session cookies, and mints login links. */
  readonly auth: ApiAuth;
  readonly #c: HttpComponents;
  #server?: Deno.HttpServer<Deno.NetAddr>;
  #url = "";

  constructor(components: HttpComponents) {
    this.#c = components;
    this.auth = createApiAuth(components.apiToken);
  }

  /** `http://HOST:PORT` of the API and web UI, once started. */
  get url(): string {
    return this.#url;
  }

  /** A one-time link that logs a browser in (valid for 10 minutes), under a name the node answers to. */
  createLoginLink(): string {
    if (!this.#server) throw new Error("The node is not started, so it has no login link");
    const { host, publicName } = this.#c.config;
    const port = this.#server.addr.port;
    // A wildcard listener is reached on 127.0.0.1, a loopback one on its own address, any other by
    // the first public name (or the address) it answers to.
    const name = isWildcard(host) ? "127.0.0.1" : isLoopback(host) ? host : publicName[0] ?? host;
    return this.auth.createLoginLink(`http://${name.includes(":") ? `[${name}]` : name}:${port}`).url;
  }

  async start(): Promise<void> {
    const { config, facade, log } = this.#c;
    // Files of uploads cut short by a crash: nothing can be using them before the server starts.
    const uploadDir = getUploadDir(config.dataDir);
    await Deno.remove(uploadDir, { recursive: true }).catch(() => {});
    const app = await createApp(facade, {
      uploadDir,
      publicUrl: config.publicUrl,
      auth: this.auth,
      log,
      // Any other name may be the attacker's, rebound to this node's address. An address it
      // listens on by number (a LAN address) is no name an attacker can rebind.
      allowedHosts: [
        ...LOOPBACK_HOSTS,
        ...config.publicName,
        ...(config.publicUrl ? [new URL(config.publicUrl).hostname.replace(/^\[(.*)\]$/, "$1")] : []),
        ...(isLoopback(config.host) || isWildcard(config.host) ? [] : [config.host.toLowerCase()]),
      ],
    });
    try {
      this.#server = Deno.serve({
        hostname: config.host,
        port: config.port,
        onListen: () => {},
      }, app.fetch);
    } catch (cause) {
      if (cause instanceof Deno.errors.AddrInUse) {
        throw new StartError(`port ${config.port} on ${config.host} is already in use (set --port)`, {
          cause,
        });
      }
      throw new StartError(
        `cannot listen on ${config.host}:${config.port}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const { hostname, port } = this.#server.addr;
    this.#url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  }

  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }
}

/** Whether `host` means every interface. */
function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/** Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost). */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

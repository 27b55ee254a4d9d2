/**
 * Flag parsing and HTTP helpers shared by the client subcommands
 * (`kosmos publish`, `kosmos fetch`, `kosmos buy`, `kosmos login`), which talk to a running
 * node's API with its owner's token (`<data-dir>/api-token` or `KOSMOS_TOKEN`).
 */
import { join } from "node:path";
import { homedir } from "node:os";
import { readClientToken } from "../api_token.ts";
import { delay } from "../delay.ts";
import { KosmosError } from "../errors.ts";
import { DEFAULT_HTTP_PORT, second } from "../constants.ts";
import type { ProgressBarInit } from "./progress.ts";

/** The API of the local node unless `--url` or `KOSMOS_URL` says otherwise. */
export const DEFAULT_URL = `http://127.0.0.1:${DEFAULT_HTTP_PORT}`;

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string>;
  help: boolean;
  /** The switches (flags without a value, see `booleans`) given. */
  switches: Set<string>;
}

/** A command used the wrong way (unknown flag, missing operand): the process exits with code 2. */
export class UsageError extends KosmosError {
  override name = "UsageError";
  /** The process exit code for it. */
  readonly exitCode = 2;
}

/**
 * Parses `--name value` and `--name=value` flags, allowing only `known`, and
 * the switches `options.booleans` (`--json`, no value); everything else is
 * positional. Throws a {@link UsageError} for unknown or valueless flags.
 */
export function parseArgs(
  command: string,
  args: string[],
  known: readonly string[],
  options: { /** Flags that take no value. @default [] */ booleans?: readonly string[] } = {},
): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  const booleans = options.booleans ?? [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (booleans.includes(name)) {
      if (eq >= 0) throw new UsageError(`${command}: flag --${name} takes no value`);
      switches.add(name);
      continue;
    }
    if (!known.includes(name)) throw new UsageError(`${command}: unknown flag --${name} (try --help)`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length && !args[i + 1].startsWith("--")) value = args[++i];
    if (value === undefined) throw new UsageError(`${command}: flag --${name} needs a value`);
    if (flags.has(name)) throw new UsageError(`${command}: flag --${name} is given twice`);
    flags.set(name, value);
  }
  return { positionals, flags, help, switches };
}

/** The node URL from `--url`, `KOSMOS_URL` or the default, checked. */
export function getNodeUrl(command: string, flags: Map<string, string>, env: Record<string, string>): URL {
  const text = flags.get("url") ?? env.KOSMOS_URL ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new KosmosError(`${command}: --url ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new KosmosError(`${command}: --url must be an http(s) URL`);
  }
  return url;
}

/** Lines of the client commands' usage about reaching the node. */
export const NODE_FLAGS_USAGE = `  --url URL        the node's API (KOSMOS_URL; default http://127.0.0.1:7464)
  --data-dir DIR   the node's data dir, which holds its api-token (KOSMOS_DATA_DIR; default ~/.kosmos);
                   KOSMOS_TOKEN=<token> instead for a node elsewhere`;

/** A running node's API and the owner's token for it. */
export interface NodeTarget {
  url: URL;
  token: string;
}

/** The node from `--url`/`KOSMOS_URL`, with the token from `KOSMOS_TOKEN` or `--data-dir`'s api-token. */
export async function getNodeTarget(
  command: string,
  flags: Map<string, string>,
  env: Record<string, string>,
): Promise<NodeTarget> {
  const url = getNodeUrl(command, flags, env);
  const dataDir = flags.get("data-dir") ?? env.KOSMOS_DATA_DIR ?? join(homedir(), ".kosmos");
  return { url, token: await readClientToken(command, { dataDir, env }) };
}

/**
 * Reads the arguments of a command that takes only the node flags (`--url`, `--data-dir`) and
 * exactly one `operand` (none without one): prints `usage` and resolves with `null` for `--help`,
 * otherwise with the positionals and the node (see {@link getNodeTarget}).
 */
export async function parseNodeCommand(
  command: string,
  args: string[],
  options: {
    usage: string;
    /** The positional's name in messages, e.g. `"MANIFEST_CID"`. @default none: takes no arguments */
    operand?: string;
    print: (line: string) => void;
    /** @default Deno.env.toObject() */
    env?: Record<string, string>;
    /** Switches besides `--json`, which every command takes. @default [] */
    booleans?: readonly string[];
  },
): Promise<(NodeTarget & { positionals: string[]; switches: Set<string> }) | null> {
  const { positionals, flags, help, switches } = parseArgs(command, args, ["url", "data-dir"], {
    booleans: ["json", ...(options.booleans ?? [])],
  });
  if (help) {
    options.print(options.usage);
    return null;
  }
  if (options.operand !== undefined && positionals.length !== 1) {
    throw new UsageError(`${command}: give exactly one ${options.operand} (try --help)`);
  }
  if (options.operand === undefined && positionals.length !== 0) {
    throw new UsageError(`${command}: takes no arguments (try --help)`);
  }
  const target = await getNodeTarget(command, flags, options.env ?? Deno.env.toObject());
  return { ...target, positionals, switches };
}

/** `fetch` with the owner's token and the errors a person can act on: unreachable node, error body of the API. */
export async function requestNode(
  command: string,
  url: URL,
  init: RequestInit & { token: string },
): Promise<Response> {
  const { token, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set("authorization", `Bearer ${token}`);
  let response: Response;
  try {
    response = await fetch(url, { ...rest, headers });
  } catch (cause) {
    throw new KosmosError(
      `${command}: cannot reach a Kosmos node at ${url.origin} (start one with \`deno task start\`, or pass --url)`,
      { cause },
    );
  }
  return response;
}

/** Options of the commands that start work on a node and follow its progress (`fetch`, `buy`). */
export interface FollowCommandOptions {
  env?: Record<string, string>;
  /** @default console.log */
  print?: (line: string) => void;
  /** @default Deno.stderr */
  progressOutput?: ProgressBarInit["output"];
  /** ms between progress polls. @default 250 */
  interval?: number;
  signal?: AbortSignal;
}

/** POSTs `body` as JSON to the node at `url` (see {@link requestNode}). */
export function postJson(
  command: string,
  url: URL,
  options: { body: unknown; token: string; signal?: AbortSignal },
): Promise<Response> {
  return requestNode(command, url, {
    token: options.token,
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(options.body),
    signal: options.signal,
  });
}

/** Reads an API error body into one line. */
export async function describeFailure(response: Response): Promise<string> {
  try {
    const body = await response.json();
    if (typeof body?.error?.message === "string") return `${body.error.message} (${response.status})`;
    // Plausible's shape, as the Stats API routes answer.
    if (typeof body?.error === "string") return `${body.error} (${response.status})`;
  } catch { /* not our error shape */ }
  return `the node answered ${response.status} ${response.statusText}`;
}

/**
 * Asks the node to start `command`'s work on `subject` (POST `body` to
 * `url`) and resolves with its first JSON view; anything but 202 throws.
 */
export async function startJob(
  command: string,
  url: URL,
  options: { subject: string; body: unknown; token: string; signal?: AbortSignal },
): Promise<unknown> {
  const started = await postJson(command, url, {
    body: options.body,
    token: options.token,
    signal: options.signal,
  });
  if (started.status !== 202) {
    throw new KosmosError(
      `${command}: the node cannot ${command} ${options.subject}: ${await describeFailure(started)}`,
    );
  }
  return await started.json();
}

/**
 * Polls `status` while `running(view)`, calling `onView` with each running
 * view before it waits `interval` ms (at most 10 s); resolves with the first
 * view that is no longer running.
 */
export async function followJob<T>(
  command: string,
  status: URL,
  options: {
    /** The view `startJob` returned. */
    first: T;
    running: (view: T) => boolean;
    onView: (view: T) => void;
    /** Names the job in "lost track of …". */
    subject: string;
    /** @default 250 */
    interval?: number;
    token: string;
    signal?: AbortSignal;
  },
): Promise<T> {
  let view = options.first;
  while (options.running(view)) {
    options.onView(view);
    await delay(Math.min(options.interval ?? 250, 10 * second), options.signal);
    const response = await requestNode(command, status, {
      token: options.token,
      headers: { accept: "application/json" },
      signal: options.signal,
    });
    if (!response.ok) {
      throw new KosmosError(
        `${command}: lost track of ${options.subject}: ${await describeFailure(response)}`,
      );
    }
    view = await response.json() as T;
  }
  return view;
}

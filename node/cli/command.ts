/**
 * The frame every client command shares: flag parsing with `--json` (one JSON
 * document on stdout, nothing else there) and `--yes` for commands that make
 * the node sign, calls to the node's API with the owner's token, the fee
 * preview and confirmation before a signing call, and output as text or JSON.
 * A bad command line is a {@link UsageError} (exit code 2); a refused or
 * failed action a `KosmosError` (exit code 1).
 *
 * ```ts
 * export const runWallet = (args: string[], io?: CommandIo) =>
 *   runCommand({ name: "wallet", usage: WALLET_USAGE, operands: [0, 0] }, args, io, async (cmd) => {
 *     const wallet = await callApi<WalletView>(cmd, "/api/v1/wallet");
 *     output(cmd, wallet, () => [`Wallet ${wallet.address}`]);
 *   });
 * ```
 */
import { formatUnits } from "viem";
import type { FeePreview } from "../../protocol/api/fees.ts";
import { KosmosError } from "../errors.ts";
import { confirmFee, type ConfirmIo, FeeNotConfirmedError } from "./confirm.ts";
import {
  describeFailure,
  getNodeTarget,
  type NodeTarget,
  parseArgs,
  requestNode,
  UsageError,
} from "./args.ts";

export { UsageError };

/** Where a command reads and writes; tests give their own. */
export interface CommandIo {
  env?: Record<string, string>;
  /** A line on stdout. @default console.log */
  print?: (line: string) => void;
  /** A line on stderr (what happens, confirmations). @default console.error */
  printError?: (line: string) => void;
  /** How the fee confirmation asks. @default the terminal */
  confirm?: ConfirmIo;
  signal?: AbortSignal;
}

export interface CommandSpec {
  /** As typed after `kosmos`, e.g. `"withdraw-stake"`. */
  name: string;
  usage: string;
  /** Fewest and most positional arguments. */
  operands: readonly [number, number];
  /** Flags with a value, besides `--url` and `--data-dir`. @default [] */
  flags?: readonly string[];
  /** Flags without a value, besides `--json` (and `--yes` when `signs`). @default [] */
  switches?: readonly string[];
  /** Whether the command may make the node sign a transaction (it then takes `--yes`). @default false */
  signs?: boolean;
}

/** A parsed command line with its node, handed to the command's action. */
export interface Command extends NodeTarget {
  name: string;
  positionals: string[];
  flags: Map<string, string>;
  switches: Set<string>;
  json: boolean;
  yes: boolean;
  print: (line: string) => void;
  printError: (line: string) => void;
  confirm?: ConfirmIo;
  signal?: AbortSignal;
}

/** Lines of every command's usage about `--json`, `--yes` and the node. */
export const COMMON_FLAGS_USAGE =
  `  --json           print one JSON document on stdout (and nothing else there)
  --url URL        the node's API (KOSMOS_URL; default http://127.0.0.1:7464)
  --data-dir DIR   the node's data dir, which holds its api-token (KOSMOS_DATA_DIR; default ~/.kosmos);
                   KOSMOS_TOKEN=<token> instead for a node elsewhere`;

/** The line about `--yes` of the commands that sign. */
export const YES_USAGE =
  `  --yes            accept the estimated network fee without asking (needed without a terminal)`;

/**
 * Parses `args` for `spec`, prints the usage for `--help`, and runs `action`;
 * resolves with the exit code (errors propagate for `main` to report).
 */
export async function runCommand(
  spec: CommandSpec,
  args: string[],
  io: CommandIo,
  action: (cmd: Command) => Promise<void>,
): Promise<number> {
  const print = io.print ?? ((line: string) => console.log(line));
  const { positionals, flags, help, switches } = parseArgs(spec.name, args, [
    "url",
    "data-dir",
    ...(spec.flags ?? []),
  ], { booleans: ["json", ...(spec.signs ? ["yes"] : []), ...(spec.switches ?? [])] });
  if (help) {
    print(spec.usage);
    return 0;
  }
  const [min, max] = spec.operands;
  if (positionals.length < min || positionals.length > max) {
    throw new UsageError(
      `${spec.name}: ${
        max === 0
          ? "takes no arguments"
          : `expected ${min === max ? min : `${min} to ${max}`} argument${
            max === 1 ? "" : "s"
          }, got ${positionals.length}`
      } (try --help)`,
    );
  }
  const target = await getNodeTarget(spec.name, flags, io.env ?? Deno.env.toObject());
  await action(makeCommand(spec.name, target, { positionals, flags, switches }, io));
  return 0;
}

/** The {@link Command} of a parsed command line, for commands that parse their own (`publish`, `buy`). */
export function makeCommand(
  name: string,
  target: NodeTarget,
  parsed: { positionals: string[]; flags: Map<string, string>; switches: Set<string> },
  io: CommandIo,
): Command {
  return {
    ...target,
    name,
    ...parsed,
    json: parsed.switches.has("json"),
    yes: parsed.switches.has("yes"),
    print: io.print ?? ((line: string) => console.log(line)),
    printError: io.printError ?? ((line: string) => console.error(line)),
    confirm: io.confirm,
    signal: io.signal,
  };
}

/**
 * Refuses (exit code 2) before any work when a command will have to confirm a
 * fee but cannot ask: no `--yes` and no terminal.
 */
export function checkCanConfirm(cmd: Command): void {
  if (cmd.yes) return;
  const isTerminal = cmd.confirm?.isTerminal ?? (() => Deno.stdin.isTerminal());
  if (!isTerminal()) {
    throw new FeeNotConfirmedError(
      `${cmd.name}: not confirmed: no terminal to ask on; pass --yes to accept the fee (nothing was done)`,
    );
  }
}

/** Options of {@link callApi}. */
export interface CallApiInit {
  /** @default "GET", or "POST" with a body */
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  query?: Record<string, string>;
  /** What failed, for the message: `${cmd.name}: cannot ${what}: …`. @default the method and path */
  what?: string;
}

/** Calls the node's API and resolves with its JSON answer; any status but 2xx is a `KosmosError`. */
export async function callApi<T>(cmd: Command, path: string, init: CallApiInit = {}): Promise<T> {
  const url = new URL(path, cmd.url);
  for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
  const method = init.method ?? (init.body === undefined ? "GET" : "POST");
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await requestNode(cmd.name, url, {
    token: cmd.token,
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: cmd.signal,
  });
  if (!response.ok) {
    throw new KosmosError(
      `${cmd.name}: cannot ${init.what ?? `${method} ${url.pathname}`}: ${await describeFailure(response)}`,
    );
  }
  return await response.json() as T;
}

/**
 * A call that makes the node sign: asks for a preview (`?preview=1`, nothing
 * signed), shows `what` and the fee and waits for the person's yes
 * (`confirmFee`), then makes the call for real and resolves with its answer.
 */
export async function callSigned<T>(
  cmd: Command,
  path: string,
  init: CallApiInit & { what: string; describe: string },
): Promise<T> {
  await confirmPreview(cmd, path, init);
  return await callApi<T>(cmd, path, init);
}

/**
 * The first half of {@link callSigned}: the preview of the call, shown with
 * `describe` (text, or made from the preview) and confirmed; resolves with it.
 */
export async function confirmPreview<P extends object = Record<string, unknown>>(
  cmd: Command,
  path: string,
  init: CallApiInit & { what: string; describe: string | ((preview: FeePreview & Partial<P>) => string) },
): Promise<FeePreview & Partial<P>> {
  const preview = await callApi<Partial<FeePreview> & Partial<P>>(cmd, path, {
    ...init,
    query: { ...init.query, preview: "1" },
  });
  const checked = checkPreview(cmd, preview, init.what);
  const describe = typeof init.describe === "string" ? init.describe : init.describe(checked);
  await confirmFee({ yes: cmd.yes, json: cmd.json }, checked, describe, {
    write: cmd.printError,
    ...cmd.confirm,
  });
  return checked;
}

/** `preview` when it is a fee preview (`{ preview: true, fee }`); a `KosmosError` otherwise. */
export function checkPreview<P>(
  cmd: Command,
  preview: Partial<FeePreview> & P,
  what: string,
): FeePreview & P {
  if (preview?.preview !== true || typeof preview.fee?.fee !== "string") {
    throw new KosmosError(`${cmd.name}: the node gave no fee preview for ${what}; nothing was confirmed`);
  }
  return preview as FeePreview & P;
}

/** Prints `value` as one JSON document with `--json`, else the lines `text` gives. */
export function output(cmd: Command, value: unknown, text: () => string[]): void {
  if (cmd.json) cmd.print(JSON.stringify(value));
  else for (const line of text()) cmd.print(line);
}

/** Token base units (a decimal string) for people: `"100 KOS"`. */
export function formatKos(base: string | bigint): string {
  return `${formatUnits(BigInt(base), 18)} KOS`;
}

/** ETH base units (wei) for people: `"0.5 ETH"`. */
export function formatEth(wei: string | bigint): string {
  return `${formatUnits(BigInt(wei), 18)} ETH`;
}

/** Unix seconds (or ms past 1e12) as an ISO date and time. */
export function formatTime(time: number): string {
  return new Date(time > 1e12 ? time : time * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `--amount`, a token amount such as `100` or `2.5`; a {@link UsageError} when missing or malformed. */
export function readAmount(cmd: Command, flag = "amount"): string {
  const text = cmd.flags.get(flag)?.trim();
  if (!text) throw new UsageError(`${cmd.name}: give --${flag} N, a token amount such as 100 (try --help)`);
  if (!/^\d+(\.\d{1,18})?$/.test(text) || /^0+(\.0+)?$/.test(text)) {
    throw new UsageError(
      `${cmd.name}: --${flag} ${
        JSON.stringify(text.slice(0, 40))
      } is not a positive token amount such as 100 or 2.5`,
    );
  }
  return text;
}

/** Whether `text` is a registry listing id (a decimal number) rather than a manifest CID. */
export function isRegistryId(text: string): boolean {
  return /^[1-9]\d{0,76}$/.test(text);
}

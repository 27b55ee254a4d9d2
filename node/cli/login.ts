/**
 * `kosmos login` — asks a running node for a fresh one-time login link
 * (`POST /api/v1/login-links`, with the owner's token) and prints it. Opening
 * the link in a browser logs that browser in; the link works once, for 10
 * minutes.
 */
import { KosmosError } from "../errors.ts";
import { describeFailure, NODE_FLAGS_USAGE, parseNodeCommand, requestNode } from "./args.ts";

export const LOGIN_USAGE = `Usage: kosmos login [--url URL] [--data-dir DIR]

Prints a one-time link that logs a browser in to a running node's web UI.
The link works once, within 10 minutes.

Flags:
${NODE_FLAGS_USAGE}
`;

export interface RunLoginOptions {
  env?: Record<string, string>;
  /** @default console.log */
  print?: (line: string) => void;
  signal?: AbortSignal;
}

/** Runs `kosmos login`; resolves with the exit code. */
export async function runLogin(args: string[], options: RunLoginOptions = {}): Promise<number> {
  const print = options.print ?? console.log;
  const command = await parseNodeCommand("login", args, { usage: LOGIN_USAGE, print, env: options.env });
  if (!command) return 0;
  const { url, token } = command;
  const response = await requestNode("login", new URL("/api/v1/login-links", url), {
    token,
    method: "POST",
    headers: { accept: "application/json" },
    signal: options.signal,
  });
  if (response.status !== 201) {
    throw new KosmosError(`login: the node gave no login link: ${await describeFailure(response)}`);
  }
  const link = await response.json() as { url?: unknown };
  if (typeof link.url !== "string") throw new KosmosError("login: the node answered without a link");
  if (command.switches.has("json")) print(JSON.stringify({ url: link.url }));
  else print(`Open this link to log in (it works once, within 10 minutes):\n    ${link.url}`);
  return 0;
}

/**
 * The fee confirmation of every CLI command that makes the node sign. The
 * command first asks the node for a preview (`?preview=1`: validated and
 * estimated, nothing signed), then `confirmFee` prints what will happen and
 * the estimated fee on stderr and asks `Proceed? [y/N]` on a terminal.
 * `--yes` skips the question; without a terminal and without `--yes` it
 * refuses (exit code 2) and nothing is signed.
 *
 * ```ts
 * const preview = await previewAction("stake", url, { body, token });
 * await confirmFee({ yes, json }, preview, `Stake 100 KOS on ${manifestCid}`);
 * ```
 */
import { formatEther, formatGwei } from "viem";
import type { FeeView } from "../../protocol/api/fees.ts";
import { KosmosError } from "../errors.ts";

/** The person did not confirm the fee (no terminal and no `--yes`, or an answer other than yes). */
export class FeeNotConfirmedError extends KosmosError {
  override name = "FeeNotConfirmedError";
  /** The process exit code for it. */
  readonly exitCode = 2;
}

/** Where `confirmFee` reads and writes; tests give their own. */
export interface ConfirmIo {
  /** @default Deno.stdin.isTerminal() */
  isTerminal?: () => boolean;
  /** Reads one line of the answer (`null` at end of input). @default a line from Deno.stdin */
  readLine?: () => Promise<string | null>;
  /** @default a line on Deno.stderr */
  write?: (line: string) => void;
}

/** One line: `what`, then the fee in ETH and its gas. */
export function describeFee(fee: FeeView, what: string): string {
  return `${what}\nNetwork fee: at most ${formatEther(BigInt(fee.fee))} ETH (${fee.gas} gas × ${
    formatGwei(BigInt(fee.maxFeePerGas))
  } gwei, tip ${formatGwei(BigInt(fee.maxPriorityFeePerGas))} gwei)`;
}

/**
 * Prints `what` and the previewed fee (stderr, so `--json` keeps stdout to its
 * one document) and resolves when the person agreed: `--yes`, or "y"/"yes" to
 * `Proceed? [y/N]` on a terminal. Rejects with a {@link FeeNotConfirmedError}
 * otherwise (without a terminal and without `--yes`, it does not ask).
 */
export async function confirmFee(
  opts: { yes: boolean; json: boolean },
  preview: { fee: FeeView },
  what: string,
  io: ConfirmIo = {},
): Promise<void> {
  const write = io.write ?? ((line: string) => console.error(line));
  write(describeFee(preview.fee, what));
  if (opts.yes) return;
  const isTerminal = io.isTerminal ?? (() => Deno.stdin.isTerminal());
  if (!isTerminal()) {
    throw new FeeNotConfirmedError(
      "not confirmed: no terminal to ask on; pass --yes to accept the fee (nothing was signed)",
    );
  }
  // On the terminal the answer goes on the prompt's line.
  if (io.write) io.write("Proceed? [y/N] ");
  else Deno.stderr.writeSync(new TextEncoder().encode("Proceed? [y/N] "));
  const answer = await (io.readLine ?? readStdinLine)();
  if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) {
    throw new FeeNotConfirmedError("cancelled: nothing was signed");
  }
}

/** Reads one line from stdin, without holding the stream afterwards. */
async function readStdinLine(): Promise<string | null> {
  const reader = Deno.stdin.readable.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) return text.length ? text : null;
      text += decoder.decode(value, { stream: true });
    }
    return text.slice(0, text.indexOf("\n"));
  } finally {
    reader.releaseLock();
  }
}

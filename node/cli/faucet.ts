/**
 * `kosmos faucet [ADDRESS]` — on a dev network, has the node ask the faucet
 * for test tokens (and test ether) for its wallet or ADDRESS
 * (`POST /api/v1/faucet`); `--info` only shows what a drip gives and when the
 * address may ask again (`GET /api/v1/faucet`). The node pays the drip's fee in
 * test ether, so nothing is asked first.
 */
import type { FaucetDrip, FaucetInfo } from "../../protocol/api/faucet.ts";
import {
  callApi,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  formatEth,
  formatKos,
  formatTime,
  output,
  runCommand,
  UsageError,
} from "./command.ts";

export const FAUCET_USAGE = `Usage: kosmos faucet [ADDRESS] [--info] [--json]

On a dev network (the embedded local chain, deno task devnet), gets test
tokens and test ether from the network's faucet for this node's wallet, or for
ADDRESS. A node on another network answers that it has no faucet.

Flags:
  --info           only show what a drip gives and when the address may ask again
${COMMON_FLAGS_USAGE}
`;

/** Runs `kosmos faucet`. */
export function runFaucet(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "faucet", usage: FAUCET_USAGE, operands: [0, 1] as const, switches: ["info"] };
  return runCommand(spec, args, io, async (cmd) => {
    const [address] = cmd.positionals;
    if (address !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(address)) {
      throw new UsageError(
        `faucet: ${JSON.stringify(address.slice(0, 60))} is not an address (0x and 40 hex digits)`,
      );
    }
    if (cmd.switches.has("info")) {
      const info = await callApi<FaucetInfo>(cmd, "/api/v1/faucet", {
        query: address ? { address } : {},
        what: "read the faucet",
      });
      output(cmd, info, () => [
        `Faucet ${info.contract}: ${formatKos(info.amount)} and ${formatEth(info.ethAmount)} a drip`,
        `${info.address} ${
          info.availableIn === 0 ? "may ask now" : `may ask again from ${formatTime(info.nextDripAt)}`
        }`,
      ]);
      return;
    }
    const drip = await callApi<FaucetDrip>(cmd, "/api/v1/faucet", {
      body: address ? { address } : {},
      what: "get test tokens",
    });
    output(cmd, drip, () => [
      `Sent ${formatKos(drip.tokens)} and ${formatEth(drip.eth)} to ${drip.address} (tx ${drip.txHash})`,
    ]);
  });
}

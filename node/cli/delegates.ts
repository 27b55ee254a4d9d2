/**
 * `kosmos delegates MANIFEST_CID [add PEER_ID | remove ADDRESS]` — the nodes
 * that may sell one of this node's listings while it is offline: list them,
 * add one (the node approves its wallet on the escrow and hands it the key),
 * or remove one (the escrow refuses its quotes from then on). Adding and
 * removing sign a transaction: the fee is shown and confirmed first.
 */
import type { DelegateView, MyListingView } from "../../protocol/api/mod.ts";
import { KosmosError } from "../errors.ts";
import {
  callApi,
  callSigned,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  output,
  runCommand,
  UsageError,
  YES_USAGE,
} from "./command.ts";

export const DELEGATES_USAGE = `Usage: kosmos delegates MANIFEST_CID [--json]
       kosmos delegates MANIFEST_CID add PEER_ID [--yes] [--json]
       kosmos delegates MANIFEST_CID remove ADDRESS [--yes] [--json]

Lists the wallets the escrow lets sell one of this node's listings, adds a
node (by its peer id; it must be online) as a delegate that quotes and
reveals keys for the listing while this node is offline, or removes a
delegate's approval (by its wallet address).

Flags:
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

/** Runs `kosmos delegates`. */
export function runDelegates(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "delegates", usage: DELEGATES_USAGE, operands: [1, 3] as const, signs: true };
  return runCommand(spec, args, io, async (cmd) => {
    const [manifestCid, action, who] = cmd.positionals;
    const path = `/api/v1/listings/${encodeURIComponent(manifestCid)}/delegates`;
    if (action === undefined) {
      const { listings } = await callApi<{ listings: MyListingView[] }>(cmd, "/api/v1/me/listings", {
        what: "list this node's listings",
      });
      const listing = listings.find((l) => l.manifestCid === manifestCid);
      if (!listing) throw new KosmosError(`delegates: ${manifestCid} is no listing this node sells`);
      output(
        cmd,
        { manifestCid, delegates: listing.delegates },
        () =>
          listing.delegates.length === 0
            ? [`No delegates sell ${manifestCid} (kosmos delegates ${manifestCid} add PEER_ID).`]
            : listing.delegates.map((d) => `${d.delegate}  registry listing ${d.registryListingId}`),
      );
      return;
    }
    if ((action !== "add" && action !== "remove") || who === undefined) {
      throw new UsageError(
        `delegates: expected add PEER_ID or remove ADDRESS after the listing (try --help)`,
      );
    }
    if (action === "add") {
      const added = await callSigned<DelegateView>(cmd, path, {
        body: { peerId: who },
        what: `the delegation of ${manifestCid}`,
        describe: `Let node ${who} sell ${manifestCid} (approves its wallet on the escrow)`,
      });
      output(cmd, added, () => [
        `${added.peerId} (wallet ${added.delegate}) now sells ${added.listingId}${
          added.txHash ? ` (tx ${added.txHash})` : ""
        }`,
      ]);
      return;
    }
    if (!/^0x[0-9a-fA-F]{40}$/.test(who)) {
      throw new UsageError(`delegates: remove takes the delegate's wallet address (0x and 40 hex digits)`);
    }
    const removed = await callSigned<{ registryListingId: string; delegate: string; txHash: string }>(
      cmd,
      `${path}/${who}`,
      {
        method: "DELETE",
        what: `the removal of delegate ${who}`,
        describe: `Stop ${who} from selling ${manifestCid}`,
      },
    );
    output(cmd, removed, () => [`${removed.delegate} no longer sells ${manifestCid} (tx ${removed.txHash})`]);
  });
}

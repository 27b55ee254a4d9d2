/**
 * The registry from the command line, with this node's wallet: `kosmos stake`
 * (list a dataset or add stake), `kosmos withdraw-stake` (request, then
 * withdraw once the delay is over), `kosmos challenge`, `kosmos challenges`
 * and `kosmos resolve` (arbiter only). Every command that signs previews the
 * fee and asks first (`--yes` to accept it).
 */
import type { ChallengeView, ListingDetail, WalletView } from "../../protocol/api/mod.ts";
import { KosmosError } from "../errors.ts";
import {
  callApi,
  callSigned,
  type Command,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  formatKos,
  formatTime,
  isRegistryId,
  output,
  readAmount,
  runCommand,
  UsageError,
  YES_USAGE,
} from "./command.ts";

export const STAKE_USAGE = `Usage: kosmos stake MANIFEST_CID|LISTING_ID --amount N [--yes] [--json]

Stakes N KOS from this node's wallet: lists a dataset (its manifest CID) on the
registry, which makes it buyable, or adds to this node's listing of it.

Flags:
  --amount N       tokens to stake, such as 100 or 2.5 (required)
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

export const WITHDRAW_STAKE_USAGE = `Usage: kosmos withdraw-stake LISTING_ID|MANIFEST_CID [--yes] [--json]

Takes a stake of this node back from the registry in two steps: the first run
requests the withdrawal (the listing stops being buyable) and prints when it
can be withdrawn; a run after that time withdraws the tokens to the wallet.

Flags:
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

export const CHALLENGE_USAGE = `Usage: kosmos challenge LISTING_ID|MANIFEST_CID --amount N [--yes] [--json]

Challenges a registry listing with N KOS of this node's tokens: the arbiter
then rules whether the listing is valid. A bad listing's stake goes to its
challengers.

Flags:
  --amount N       tokens to put up, such as 10 (required)
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

export const CHALLENGES_USAGE = `Usage: kosmos challenges [--json]

Lists the registry listings with open challenges: stake, challenged amount,
and whether the arbiter may resolve them now.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const RESOLVE_USAGE = `Usage: kosmos resolve LISTING_ID|MANIFEST_CID --valid|--invalid [--yes] [--json]

Rules on a challenged listing; only the registry's arbiter may. --valid keeps
the listing (challengers lose their stake), --invalid removes it (its stake
goes to the challengers and the treasury).

Flags:
  --valid          the listing is good
  --invalid        the listing is bad: remove it
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

/** Runs `kosmos stake`. */
export function runStake(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "stake",
    usage: STAKE_USAGE,
    operands: [1, 1] as const,
    flags: ["amount"],
    signs: true,
  };
  return runCommand(spec, args, io, async (cmd) => {
    const amount = readAmount(cmd);
    const ref = cmd.positionals[0];
    const manifestCid = isRegistryId(ref) ? (await findOwnStake(cmd, ref)).manifestCid : ref;
    const result = await callSigned<{ listingId: string; stake: string; created: boolean; txHash: string }>(
      cmd,
      "/api/v1/stakes",
      {
        body: { manifestCid, amount },
        what: `stake on ${manifestCid}`,
        describe: `Stake ${amount} KOS on ${manifestCid}`,
      },
    );
    output(cmd, { manifestCid, ...result }, () => [
      `${
        result.created ? "Listed" : "Added stake to"
      } ${manifestCid}: registry listing ${result.listingId}, ${
        formatKos(result.stake)
      } staked (tx ${result.txHash})`,
    ]);
  });
}

/** Runs `kosmos withdraw-stake`. */
export function runWithdrawStake(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "withdraw-stake",
    usage: WITHDRAW_STAKE_USAGE,
    operands: [1, 1] as const,
    signs: true,
  };
  return runCommand(spec, args, io, async (cmd) => {
    const stake = await findOwnStake(cmd, cmd.positionals[0]);
    // Too early or too late to withdraw: the node's preview says so (the chain's clock decides).
    const describe = stake.withdrawableAt === null
      ? `Request the withdrawal of the ${formatKos(stake.stake)} staked on listing ${stake.listingId}` +
        ` (it stops being buyable)`
      : `Withdraw the ${formatKos(stake.stake)} staked on listing ${stake.listingId}`;
    const result = await callSigned<
      { status: "requested" | "withdrawn"; withdrawableAt?: number; amount?: string; txHash: string }
    >(cmd, `/api/v1/stakes/${stake.listingId}/withdrawal`, {
      method: "POST",
      what: `the withdrawal of listing ${stake.listingId}`,
      describe,
    });
    output(
      cmd,
      { listingId: stake.listingId, manifestCid: stake.manifestCid, ...result },
      () =>
        result.status === "requested"
          ? [
            `Requested the withdrawal of listing ${stake.listingId} (tx ${result.txHash}).`,
            `Run \`kosmos withdraw-stake ${stake.listingId}\` again from ${
              formatTime(result.withdrawableAt ?? 0)
            } to take the stake back.`,
          ]
          : [
            `Withdrew ${
              formatKos(result.amount ?? "0")
            } from listing ${stake.listingId} (tx ${result.txHash})`,
          ],
    );
  });
}

/** Runs `kosmos challenge`. */
export function runChallenge(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "challenge",
    usage: CHALLENGE_USAGE,
    operands: [1, 1] as const,
    flags: ["amount"],
    signs: true,
  };
  return runCommand(spec, args, io, async (cmd) => {
    const amount = readAmount(cmd);
    const listingId = await toRegistryId(cmd, cmd.positionals[0]);
    const result = await callSigned<{ listingId: string; challengeCount: number; txHash: string }>(
      cmd,
      "/api/v1/challenges",
      {
        body: { listingId, amount },
        what: `a challenge of listing ${listingId}`,
        describe: `Challenge registry listing ${listingId} with ${amount} KOS`,
      },
    );
    output(cmd, result, () => [
      `Challenged listing ${result.listingId}: ${result.challengeCount} open challenge${
        result.challengeCount === 1 ? "" : "s"
      } (tx ${result.txHash})`,
    ]);
  });
}

/** Runs `kosmos challenges`. */
export function runChallenges(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "challenges", usage: CHALLENGES_USAGE, operands: [0, 0] as const };
  return runCommand(spec, args, io, async (cmd) => {
    const { challenges } = await callApi<{ challenges: ChallengeView[] }>(cmd, "/api/v1/challenges");
    output(
      cmd,
      { challenges },
      () =>
        challenges.length === 0
          ? ["No open challenges."]
          : challenges.map((c) =>
            `listing ${c.listingId}  ${c.manifestCid}  stake ${
              formatKos(c.stake)
            }  ${c.challengeCount} challenge${c.challengeCount === 1 ? "" : "s"} for ${
              formatKos(c.challenged)
            }  ${c.resolvable ? "resolvable now" : `resolvable from ${formatTime(c.reviewableAt)}`}`
          ),
    );
  });
}

/** Runs `kosmos resolve`. */
export function runResolve(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "resolve",
    usage: RESOLVE_USAGE,
    operands: [1, 1] as const,
    switches: ["valid", "invalid"],
    signs: true,
  };
  return runCommand(spec, args, io, async (cmd) => {
    const valid = cmd.switches.has("valid");
    if (valid === cmd.switches.has("invalid")) {
      throw new UsageError("resolve: give exactly one of --valid and --invalid (try --help)");
    }
    const listingId = await toRegistryId(cmd, cmd.positionals[0], { challenged: true });
    const result = await callSigned<
      { valid: boolean; toChallengers: string; toOwner: string; toTreasury: string; txHash: string }
    >(cmd, `/api/v1/challenges/${listingId}/resolve`, {
      body: { valid },
      what: `the ruling on listing ${listingId}`,
      describe: `Rule listing ${listingId} ${valid ? "valid: it stays" : "invalid: it is removed"}`,
    });
    output(cmd, { listingId, ...result }, () => [
      `Resolved listing ${listingId} as ${valid ? "valid" : "invalid"}: ${
        formatKos(result.toChallengers)
      } to challengers, ${formatKos(result.toOwner)} to the owner, ${
        formatKos(result.toTreasury)
      } to the treasury (tx ${result.txHash})`,
    ]);
  });
}

/** This node's stake on `ref` (a registry listing id, or a manifest CID it staked once). */
export async function findOwnStake(cmd: Command, ref: string): Promise<WalletView["stakes"][number]> {
  const wallet = await callApi<WalletView>(cmd, "/api/v1/wallet", { what: "read the wallet" });
  const matches = wallet.stakes.filter((s) =>
    isRegistryId(ref) ? s.listingId === ref : s.manifestCid === ref
  );
  if (matches.length === 0) {
    throw new KosmosError(
      `${cmd.name}: ${
        isRegistryId(ref) ? `registry listing ${ref}` : ref
      } is no listing staked by this node ${
        wallet.stakes.length
          ? `(its listings: ${wallet.stakes.map((s) => s.listingId).join(", ")})`
          : "(it has none)"
      }`,
    );
  }
  if (matches.length > 1) {
    throw new UsageError(
      `${cmd.name}: this node has several listings of ${ref}: ${
        matches.map((s) => s.listingId).join(", ")
      }; give one listing id`,
    );
  }
  return matches[0];
}

/**
 * The registry listing id `ref` names: itself when it is one, else the only
 * active listing of that manifest CID (with `challenged`, the only challenged one).
 */
export async function toRegistryId(cmd: Command, ref: string, options: { challenged?: boolean } = {}) {
  if (isRegistryId(ref)) return ref;
  let ids: string[];
  if (options.challenged) {
    const { challenges } = await callApi<{ challenges: ChallengeView[] }>(cmd, "/api/v1/challenges");
    ids = challenges.filter((c) => c.manifestCid === ref).map((c) => c.listingId);
  } else {
    const listing = await callApi<ListingDetail>(cmd, `/api/v1/listings/${encodeURIComponent(ref)}`, {
      what: `find listing ${ref}`,
    });
    ids = listing.onChain;
  }
  if (ids.length === 1) return ids[0];
  if (ids.length === 0) {
    throw new KosmosError(
      `${cmd.name}: ${ref} has no ${options.challenged ? "challenged " : ""}listing on the registry`,
    );
  }
  throw new UsageError(`${cmd.name}: ${ref} has several registry listings (${ids.join(", ")}); give one`);
}

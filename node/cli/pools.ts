/**
 * Pools from the command line: `kosmos pool create KIND --purpose … --title … --price KOS --licence ID
 * --fee BPS [--k N] [--description …]` creates one on chain from this node's wallet and announces it;
 * `kosmos pool list` shows the pools this node knows; `kosmos pool join ID --consent CONSENT_ID` and
 * `kosmos pool leave ID` as a contributor; `kosmos pool publish ID [--stake KOS]` publishes a version
 * as the operator. Create and publish preview the fee and ask first (`--yes` to accept it).
 */
import type { CreatedPool, PoolView, PublishedPoolVersion } from "../../protocol/api/mod.ts";
import { SOURCE_KINDS } from "../../protocol/sources.ts";
import {
  callApi,
  callSigned,
  type Command,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  output,
  runCommand,
  UsageError,
  YES_USAGE,
} from "./command.ts";

export const POOL_USAGE =
  `Usage: kosmos pool create KIND --purpose TEXT --title TEXT --price KOS --licence ID --fee BPS [--k N]
                          [--description TEXT] [--yes] [--json]
       kosmos pool list [--json]
       kosmos pool join ID --consent CONSENT_ID [--json]
       kosmos pool leave ID [--json]
       kosmos pool publish ID [--stake KOS] [--yes] [--json]

A pool sells the rows of many contributors of one kind of source as one dataset; each sale's seller
share is split among a version's contributors pro rata to their rows, less the operator's fee.
create   creates a pool of KIND (${SOURCE_KINDS.join(", ")}) operated by this node
list     the pools this node knows, with its role in each
join     joins pool ID with a consent this wallet holds for its kind and purpose
leave    stops contributing to pool ID
publish  asks every member for its anonymized rows and publishes, stakes and registers a version

Flags:
  --purpose TEXT   what the data may be used for, exactly as members consent to it (create)
  --price KOS      price of each version in tokens, such as 2.5 (create)
  --fee BPS        the operator's share of each sale's seller share, 0 to 5000 basis points (create)
  --k N            k-anonymity each member applies, 2 to 1000; default 5 (create)
  --consent ID     the consent record to join with (join)
  --stake KOS      tokens staked on the version's listing; default the registry's minimum (publish)
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

const SUBCOMMANDS: Record<string, [number, string[]]> = {
  create: [1, ["purpose", "title", "price", "licence", "fee", "k", "description"]],
  list: [0, []],
  join: [1, ["consent"]],
  leave: [1, []],
  publish: [1, ["stake"]],
};

/** Runs `kosmos pool`. */
export function runPool(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "pool",
    usage: POOL_USAGE,
    operands: [1, 2] as const,
    flags: ["purpose", "title", "price", "licence", "fee", "k", "description", "consent", "stake"],
    signs: true,
  };
  return runCommand(spec, args, io, async (cmd) => {
    const [sub, ...rest] = cmd.positionals;
    if (!(sub in SUBCOMMANDS)) {
      throw new UsageError(
        `pool: unknown subcommand "${sub.slice(0, 40)}"; use create, list, join, leave or publish`,
      );
    }
    const [operands, flags] = SUBCOMMANDS[sub];
    if (rest.length !== operands) {
      throw new UsageError(
        `pool ${sub}: ${
          operands === 0 ? "takes no arguments" : `expected ${sub === "create" ? "KIND" : "ID"}`
        }`,
      );
    }
    const stray = [...cmd.flags.keys()].find((f) => spec.flags.includes(f) && !flags.includes(f));
    if (stray) throw new UsageError(`pool ${sub}: takes no --${stray}`);
    if (sub !== "create" && sub !== "list" && !/^[1-9]\d{0,76}$/.test(rest[0])) {
      throw new UsageError(
        `pool ${sub}: "${rest[0].slice(0, 40)}" is not a pool id (a positive whole number)`,
      );
    }
    if (sub === "create") await create(cmd, rest[0]);
    else if (sub === "list") await list(cmd);
    else if (sub === "join") await join(cmd, rest[0]);
    else if (sub === "leave") await leave(cmd, rest[0]);
    else await publish(cmd, rest[0]);
  });
}

function wholeNumber(cmd: Command, flag: string): number | undefined {
  const text = cmd.flags.get(flag);
  if (text === undefined) return undefined;
  if (!/^\d{1,6}$/.test(text)) throw new UsageError(`pool: --${flag} must be a whole number`);
  return Number(text);
}

async function create(cmd: Command, kind: string): Promise<void> {
  if (!(SOURCE_KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(
      `pool create: unknown kind "${kind.slice(0, 40)}"; use one of ${SOURCE_KINDS.join(", ")}`,
    );
  }
  const missing = ["purpose", "title", "price", "licence", "fee"].filter((f) => !cmd.flags.get(f));
  if (missing.length > 0) {
    throw new UsageError(`pool create: give ${missing.map((f) => `--${f}`).join(", ")}`);
  }
  const body = {
    kind,
    purpose: cmd.flags.get("purpose"),
    title: cmd.flags.get("title"),
    price: cmd.flags.get("price"),
    licence: cmd.flags.get("licence"),
    operatorFeeBps: wholeNumber(cmd, "fee"),
    ...(cmd.flags.has("k") && { k: wholeNumber(cmd, "k") }),
    ...(cmd.flags.has("description") && { description: cmd.flags.get("description") }),
  };
  const pool = await callSigned<CreatedPool>(cmd, "/api/v1/pools", {
    body,
    what: "create the pool",
    describe:
      `Create a pool of ${kind} data for "${body.purpose}" at ${body.price} KOS a version, fee ${body.operatorFeeBps} bps`,
  });
  output(
    cmd,
    pool,
    () => [
      `Created pool ${pool.id} (${pool.kind}, k = ${pool.k}); members join it with kosmos pool join ${pool.id}`,
    ],
  );
}

async function list(cmd: Command): Promise<void> {
  const { pools } = await callApi<{ pools: PoolView[] }>(cmd, "/api/v1/pools", { what: "list pools" });
  output(cmd, { pools }, () => {
    if (pools.length === 0) return ["No pools known yet. Create one with kosmos pool create KIND …"];
    const rows = pools.map((p) => [
      p.id,
      p.kind,
      p.purpose.length > 36 ? `${p.purpose.slice(0, 35)}…` : p.purpose,
      `${p.operatorFeeBps}`,
      `${p.k}`,
      p.role ?? "-",
      p.role === "operator" ? `${p.members.length}` : "",
    ]);
    const header = ["ID", "KIND", "PURPOSE", "FEE BPS", "K", "ROLE", "MEMBERS"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
    return [line(header), ...rows.map(line)];
  });
}

async function join(cmd: Command, id: string): Promise<void> {
  const consentId = cmd.flags.get("consent");
  if (!consentId || !/^[1-9]\d{0,76}$/.test(consentId)) {
    throw new UsageError(
      "pool join: give --consent ID, a consent this wallet holds for the pool's kind and purpose",
    );
  }
  const pool = await callApi<PoolView>(cmd, `/api/v1/pools/${id}/join`, {
    body: { consentId },
    what: `join pool ${id}`,
  });
  output(cmd, pool, () => [`Joined pool ${pool.id} with consent ${consentId}`]);
}

async function leave(cmd: Command, id: string): Promise<void> {
  const pool = await callApi<PoolView & { notified: boolean }>(cmd, `/api/v1/pools/${id}/leave`, {
    method: "POST",
    what: `leave pool ${id}`,
  });
  output(cmd, pool, () => [
    `Left pool ${pool.id}${
      pool.notified ? "" : " (the operator could not be told; it gets a refusal next time)"
    }`,
  ]);
}

async function publish(cmd: Command, id: string): Promise<void> {
  const stake = cmd.flags.get("stake");
  const version = await callSigned<PublishedPoolVersion>(cmd, `/api/v1/pools/${id}/versions`, {
    method: "POST",
    ...(stake !== undefined && { body: { stake } }),
    what: `publish a version of pool ${id}`,
    describe:
      `Publish a version of pool ${id}: ask every member for its rows, list and stake it, register it`,
  });
  output(cmd, version, () => [
    `Published version ${version.listingId} of pool ${id}: ${version.rows} rows of ${version.contributors.length} contributors`,
    ...version.excluded.map((e) => `  left out ${e.address}: ${e.reason}`),
  ]);
}

/**
 * Consent on chain from the command line, with this node's wallet: `kosmos consent grant KIND
 * --purpose TEXT --expires 30d|ISO` records that the person agrees to share one kind of imported
 * source for that purpose until then, `kosmos consent revoke ID` withdraws it (one transaction),
 * `kosmos consent list` shows every consent with its state on chain. Granting and revoking preview
 * the fee and ask first (`--yes` to accept it).
 */
import type { ConsentView, GrantedConsent, RevokedConsent } from "../../protocol/api/mod.ts";
import { SOURCE_KIND_INFO, SOURCE_KINDS, type SourceKind } from "../../protocol/sources.ts";
import {
  callApi,
  callSigned,
  type Command,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  formatTime,
  output,
  runCommand,
  UsageError,
  YES_USAGE,
} from "./command.ts";

export const CONSENT_USAGE =
  `Usage: kosmos consent grant KIND --purpose TEXT --expires 30d|ISO [--yes] [--json]
       kosmos consent revoke ID [--yes] [--json]
       kosmos consent list [--json]

Consent records live on the chain's consent contract, held by this node's wallet.
grant    agrees to share the imported source KIND (${SOURCE_KINDS.join(", ")})
         for one purpose until a time; publications of KIND for that purpose need it
revoke   withdraws consent ID at once; later publications leave that source out
list     every consent of this node with its state on chain (valid, revoked, expired)

Flags:
  --purpose TEXT   what the data may be used for, 3 to 200 characters (grant)
  --expires WHEN   how long: a duration (90m, 12h, 30d, 52w, 1y) or an ISO date and time (grant)
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

const UNITS: Record<string, number> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 31_557_600_000,
};

/** `--expires`: a duration from now (`30d`) or an ISO date and time, as ms since the epoch. */
export function parseExpires(text: string | undefined, now = Date.now()): number {
  if (!text) throw new UsageError("consent grant: give --expires, such as 30d or 2027-01-01 (try --help)");
  const duration = /^(\d{1,6})([mhdwy])$/.exec(text.trim());
  if (duration) return now + Number(duration[1]) * UNITS[duration[2]];
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const at = Date.parse(text.trim());
    if (Number.isFinite(at)) return at;
  }
  throw new UsageError(
    `consent grant: --expires ${
      JSON.stringify(text.slice(0, 40))
    } is neither a duration (90m, 12h, 30d, 52w, 1y) nor an ISO date`,
  );
}

/** Runs `kosmos consent`. */
export function runConsent(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "consent",
    usage: CONSENT_USAGE,
    operands: [1, 2] as const,
    flags: ["purpose", "expires"],
    signs: true,
  };
  return runCommand(spec, args, io, async (cmd) => {
    const [sub, ...rest] = cmd.positionals;
    const expected: Record<string, [number, string[]]> = {
      grant: [1, ["purpose", "expires"]],
      revoke: [1, []],
      list: [0, []],
    };
    if (!(sub in expected)) {
      throw new UsageError(`consent: unknown subcommand "${sub.slice(0, 40)}"; use grant, revoke or list`);
    }
    const [operands, flags] = expected[sub];
    if (rest.length !== operands) {
      throw new UsageError(
        `consent ${sub}: ${
          operands === 0 ? "takes no arguments" : `expected ${sub === "grant" ? "KIND" : "ID"}`
        }`,
      );
    }
    const stray = [...cmd.flags.keys()].find((f) => spec.flags.includes(f) && !flags.includes(f));
    if (stray) throw new UsageError(`consent ${sub}: takes no --${stray}`);
    if (sub === "grant") await grant(cmd, rest[0]);
    else if (sub === "revoke") await revoke(cmd, rest[0]);
    else await list(cmd);
  });
}

async function grant(cmd: Command, kind: string): Promise<void> {
  if (!(SOURCE_KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(
      `consent grant: unknown kind "${kind.slice(0, 40)}"; use one of ${SOURCE_KINDS.join(", ")}`,
    );
  }
  const purpose = cmd.flags.get("purpose");
  if (!purpose) throw new UsageError('consent grant: give --purpose TEXT, such as "music research"');
  const expiresAt = parseExpires(cmd.flags.get("expires"));
  const consent = await callSigned<GrantedConsent>(cmd, "/api/v1/consents", {
    body: { kind, purpose, expiresAt },
    what: `grant consent for ${kind}`,
    describe: `Grant consent: share your ${
      SOURCE_KIND_INFO[kind as SourceKind].label
    } data (${kind}) for "${purpose}" until ${formatTime(expiresAt)}`,
  });
  output(cmd, consent, () => [
    `Granted consent ${consent.id}: ${kind} for "${consent.purpose}" until ${
      formatTime(consent.expiresAt)
    } (tx ${consent.txHash})`,
  ]);
}

async function revoke(cmd: Command, id: string): Promise<void> {
  if (!/^[1-9]\d{0,76}$/.test(id)) {
    throw new UsageError(
      `consent revoke: "${id.slice(0, 40)}" is not a consent id (a positive whole number)`,
    );
  }
  const consent = await callSigned<RevokedConsent>(cmd, `/api/v1/consents/${id}`, {
    method: "DELETE",
    what: `revoke consent ${id}`,
    describe: `Revoke consent ${id}`,
  });
  output(cmd, consent, () => [
    `Revoked consent ${consent.id} (${consent.kind} for "${consent.purpose}") (tx ${consent.revokeTxHash})`,
  ]);
}

async function list(cmd: Command): Promise<void> {
  const { consents } = await callApi<{ consents: ConsentView[] }>(cmd, "/api/v1/consents", {
    what: "list consents",
  });
  output(cmd, { consents }, () => {
    if (consents.length === 0) {
      return ["No consents. Grant one with kosmos consent grant KIND --purpose … --expires 30d"];
    }
    return table(
      ["ID", "KIND", "PURPOSE", "STATE", "EXPIRES", "HOLDER", "GASLESS"],
      consents.map((c) => [
        c.id,
        c.kind,
        c.purpose.length > 40 ? `${c.purpose.slice(0, 39)}…` : c.purpose,
        c.state,
        formatTime(c.expiresAt),
        `${c.contributor.slice(0, 10)}…`,
        c.gasless ? "yes" : "no",
      ]),
    );
  });
}

/** Rows under a header, each column as wide as its widest cell. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

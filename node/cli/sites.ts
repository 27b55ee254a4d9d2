/**
 * `kosmos sites …` — the analytics sites of this node: list them, add one
 * (prints the snippet and the domain proof to publish), verify one now, see
 * and block its proxies, and list or create releases of its statistics.
 */
import type { SiteProxyView, SiteView } from "../../protocol/api/mod.ts";
import { KosmosError } from "../errors.ts";
import { describeFailure, requestNode } from "./args.ts";
import {
  callApi,
  type Command,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  formatTime,
  output,
  runCommand,
  UsageError,
} from "./command.ts";

export const SITES_USAGE = `Usage: kosmos sites [--json]
       kosmos sites add DOMAIN
       kosmos sites verify DOMAIN
       kosmos sites stats DOMAIN [--period day|7d|30d|month|all]
       kosmos sites proxies DOMAIN
       kosmos sites block|unblock DOMAIN PEER_ID
       kosmos sites releases DOMAIN
       kosmos sites release DOMAIN --from DATE --to DATE --epsilon E --title TEXT --price KOS --licence ID
                            [--dimension D] [--k N] [--description TEXT]

Without a subcommand, lists this node's sites and whether each is verified.
add registers a site and prints the snippet for its pages and the proof to
publish at https://DOMAIN/.well-known/kosmos-site.json; verify looks for the
proof now. stats shows the visitors of the last 5 minutes and the period's
visitors, visits and pageviews (one row a day; an hour for day). proxies shows the nodes that forward the site's events; block and
unblock refuse or take again one proxy's batches. releases shows the privacy
budget and releases; release sells a differentially private table of the
site's statistics as a dataset.

Flags:
${COMMON_FLAGS_USAGE}
`;

const RELEASE_FLAGS = ["from", "to", "epsilon", "title", "price", "licence", "dimension", "k", "description"];
/** Flags of one subcommand only. */
const SUBCOMMAND_FLAGS: Record<string, string[]> = { release: RELEASE_FLAGS, stats: ["period"] };
const ALL_FLAGS = [...RELEASE_FLAGS, "period"];

const OPERANDS: Record<string, number> = {
  add: 1,
  verify: 1,
  stats: 1,
  proxies: 1,
  block: 2,
  unblock: 2,
  releases: 1,
  release: 1,
};

/** Runs `kosmos sites`. */
export function runSites(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "sites", usage: SITES_USAGE, operands: [0, 3] as const, flags: ALL_FLAGS };
  return runCommand(spec, args, io, async (cmd) => {
    const [sub, ...rest] = cmd.positionals;
    if (sub === undefined) return await listSites(cmd);
    if (!(sub in OPERANDS)) {
      throw new UsageError(`sites: unknown subcommand "${sub.slice(0, 40)}" (try --help)`);
    }
    if (rest.length !== OPERANDS[sub]) {
      throw new UsageError(
        `sites ${sub}: expected ${OPERANDS[sub] === 1 ? "DOMAIN" : "DOMAIN PEER_ID"} (try --help)`,
      );
    }
    const stray = [...cmd.flags.keys()].find((f) =>
      ALL_FLAGS.includes(f) && !SUBCOMMAND_FLAGS[sub]?.includes(f)
    );
    if (stray) throw new UsageError(`sites ${sub}: takes no --${stray}`);
    const domain = rest[0];
    const path = `/api/v1/sites/${encodeURIComponent(domain)}`;
    if (sub === "add") {
      const site = await callApi<SiteView & { snippet: string }>(cmd, "/api/v1/sites", {
        body: { domain },
        what: `add site ${domain}`,
      });
      output(cmd, site, () => [
        `Registered ${site.domain} (${site.status}).`,
        `Paste into every page:\n  ${site.snippet}`,
        `Publish this exact JSON at ${site.proofUrl}, then run kosmos sites verify ${site.domain}:\n  ${site.proof}`,
      ]);
    } else if (sub === "stats") {
      await showStats(cmd, domain, path);
    } else if (sub === "verify") {
      const site = await callApi<SiteView>(cmd, `${path}/check`, {
        method: "POST",
        what: `verify ${domain}`,
      });
      output(cmd, site, () => [describeSite(site)]);
    } else if (sub === "proxies" || sub === "block" || sub === "unblock") {
      const { proxies } = sub === "proxies"
        ? await callApi<{ proxies: SiteProxyView[] }>(cmd, `${path}/proxies`)
        : await callApi<{ proxies: SiteProxyView[] }>(
          cmd,
          `${path}/proxies/${encodeURIComponent(rest[1])}/${sub}`,
          { method: "POST", what: `${sub} proxy ${rest[1]} of ${domain}` },
        );
      output(
        cmd,
        { proxies },
        () =>
          proxies.length === 0
            ? [`No proxies have sent events for ${domain}.`]
            : proxies.map((p) =>
              `${p.peerId}  ${p.events} events (${p.today} today) in ${p.batches} batches, ${p.refused} refused${
                p.blocked ? "  BLOCKED" : ""
              }${p.lastAt ? `  last ${formatTime(p.lastAt)}` : ""}`
            ),
      );
    } else if (sub === "releases") {
      const result = await callApi<
        {
          budget: { total: number; spent: number; remaining: number };
          releases: { id?: string; title?: string; epsilon?: number; createdAt?: number }[];
        }
      >(cmd, `${path}/releases`);
      output(cmd, result, () => [
        `Privacy budget: ${result.budget.remaining} of ${result.budget.total} ε left`,
        ...result.releases.map((r) => `  ${JSON.stringify(r)}`),
      ]);
    } else {
      const created = await callApi<{ id: string; manifestCid: string }>(cmd, `${path}/releases`, {
        body: readRelease(cmd),
        what: `release the statistics of ${domain}`,
      });
      output(cmd, created, () => [`Published the release of ${domain} as ${created.manifestCid}`]);
    }
  });
}

async function listSites(cmd: Command): Promise<void> {
  const extra = [...cmd.flags.keys()].find((f) => ALL_FLAGS.includes(f));
  if (extra) throw new UsageError(`sites: --${extra} goes with a subcommand (try --help)`);
  const { sites } = await callApi<{ sites: SiteView[] }>(cmd, "/api/v1/sites");
  output(
    cmd,
    { sites },
    () => sites.length === 0 ? ["No sites yet (kosmos sites add DOMAIN)."] : sites.map(describeSite),
  );
}

function describeSite(site: SiteView): string {
  return `${site.domain}  ${site.status}${site.checkedAt ? `, checked ${formatTime(site.checkedAt)}` : ""}${
    site.proofError ? ` (${site.proofError})` : ""
  }${site.heldBy ? `, held by ${site.heldBy.peerId}` : ""}`;
}

/** The body of a release from the flags; numbers are checked here, the rest by the node. */
function readRelease(cmd: Command): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const name of RELEASE_FLAGS) {
    const value = cmd.flags.get(name);
    if (value === undefined) continue;
    if (name === "epsilon" || name === "k") {
      const n = Number(value);
      if (!Number.isFinite(n) || value.trim() === "") {
        throw new UsageError(
          `sites release: --${name} must be a number, got ${JSON.stringify(value.slice(0, 20))}`,
        );
      }
      body[name] = n;
    } else body[name] = value;
  }
  const missing = ["from", "to", "epsilon", "title", "price", "licence"].filter((f) => body[f] === undefined);
  if (missing.length) {
    throw new UsageError(`sites release: missing ${missing.map((f) => `--${f}`).join(", ")}`);
  }
  return body;
}

/** `sites stats`: the realtime visitors and the period's series (the dashboard's CSV export). */
async function showStats(cmd: Command, domain: string, path: string): Promise<void> {
  const period = cmd.flags.get("period") ?? "30d";
  const { visitors } = await callApi<{ visitors: number }>(cmd, `${path}/realtime`, {
    what: `read the statistics of ${domain}`,
  });
  const url = new URL(`${path}/export.csv`, cmd.url);
  url.searchParams.set("period", period);
  const response = await requestNode(cmd.name, url, { token: cmd.token, signal: cmd.signal });
  if (!response.ok) {
    throw new KosmosError(
      `sites: cannot read the statistics of ${domain}: ${await describeFailure(response)}`,
    );
  }
  const [header, ...lines] = (await response.text()).trim().split(/\r?\n/);
  const columns = header.split(",");
  const series = lines.map((line) => {
    const cells = line.split(",");
    return Object.fromEntries(columns.map((c, i) => [c, i === 0 ? cells[i] : Number(cells[i])]));
  });
  output(cmd, { domain, period, realtime: visitors, series }, () => [
    `${domain}: ${visitors} visitor${visitors === 1 ? "" : "s"} in the last 5 minutes`,
    columns.join("\t"),
    ...lines.map((line) => line.split(",").join("\t")),
  ]);
}

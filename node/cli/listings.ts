/**
 * The catalog from the command line: `kosmos listings` (search, or `--mine`:
 * the listings this node sells, with stakes, challenges, sales and
 * delegates), `kosmos listing ID` (one listing in full), `kosmos quote ID`
 * (what buying costs, before anything is signed) and `kosmos gateway ID` (the
 * gateway operator credited with 10 % of a listing's sales; it is chosen when
 * publishing, `kosmos publish --gateway`).
 */
import type {
  ListingDetail,
  ListingsPage,
  ListingView,
  MyListingView,
  QuotePreviewView,
} from "../../protocol/api/mod.ts";
import {
  callApi,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  formatKos,
  formatTime,
  output,
  runCommand,
  UsageError,
} from "./command.ts";

export const LISTINGS_USAGE =
  `Usage: kosmos listings [--mine] [--search TEXT] [--category NAME] [--sort ORDER] [--json]

Lists the datasets in this node's catalog, or with --mine the ones it sells
(with their stakes, open challenges, sales, revenue and sale delegates).

Flags:
  --mine           only this node's own listings
  --search TEXT    words to look for in titles and descriptions
  --category NAME  one category, such as mobility
  --sort ORDER     newest, price, stake or relevance
  --limit N        at most N listings (default 20)
  --offset N       skip the first N
${COMMON_FLAGS_USAGE}
`;

export const LISTING_USAGE = `Usage: kosmos listing MANIFEST_CID [--json]

Shows one listing: seller, gateway, price, licence, stake, challenges,
providers and this node's replication of it.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const QUOTE_USAGE = `Usage: kosmos quote MANIFEST_CID [--json]

Shows what buying a listing costs: its price, the 80/10/10 split and the
estimated gas, before anything is signed.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const GATEWAY_USAGE = `Usage: kosmos gateway MANIFEST_CID [--json]

Shows a listing's gateway: the operator credited with 10 % of its sales, and
whether it is this node. A listing's gateway is part of its signed manifest:
name it when publishing (kosmos publish --gateway ADDRESS).

Flags:
${COMMON_FLAGS_USAGE}
`;

const SEARCH_FLAGS: Record<string, string> = {
  search: "q",
  category: "category",
  sort: "sort",
  limit: "limit",
  offset: "offset",
};

/** Runs `kosmos listings`. */
export function runListings(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "listings",
    usage: LISTINGS_USAGE,
    operands: [0, 0] as const,
    flags: Object.keys(SEARCH_FLAGS),
    switches: ["mine"],
  };
  return runCommand(spec, args, io, async (cmd) => {
    const query: Record<string, string> = {};
    for (const [flag, param] of Object.entries(SEARCH_FLAGS)) {
      if (cmd.flags.has(flag)) query[param] = cmd.flags.get(flag)!;
    }
    for (const flag of ["limit", "offset"]) {
      const value = cmd.flags.get(flag);
      if (value !== undefined && !/^\d{1,6}$/.test(value)) {
        throw new UsageError(
          `listings: --${flag} must be a whole number, got ${JSON.stringify(value.slice(0, 20))}`,
        );
      }
    }
    if (query.sort !== undefined && !["newest", "price", "stake", "relevance"].includes(query.sort)) {
      throw new UsageError(`listings: --sort must be newest, price, stake or relevance`);
    }
    if (cmd.switches.has("mine")) {
      const { listings } = await callApi<{ listings: MyListingView[] }>(cmd, "/api/v1/me/listings", {
        what: "list this node's listings",
      });
      const mine = filterMine(listings, query);
      output(
        cmd,
        { listings: mine },
        () =>
          mine.length === 0
            ? ["This node sells no listings yet (kosmos publish FILE --stake 100)."]
            : mine.map((l) =>
              `${l.manifestCid}  ${JSON.stringify(l.title)}  ${formatKos(l.price)}  stake ${
                formatKos(l.stake)
              }  ${l.challenges} challenge${l.challenges === 1 ? "" : "s"}  ${l.sales.complete} sold for ${
                formatKos(l.sales.revenue)
              }${
                l.delegates.length
                  ? `  ${l.delegates.length} delegate${l.delegates.length === 1 ? "" : "s"}`
                  : ""
              }`
            ),
      );
      return;
    }
    const page = await callApi<ListingsPage>(cmd, "/api/v1/listings", { query, what: "search the catalog" });
    output(cmd, page, () => [
      ...page.listings.map(describeListing),
      `${page.listings.length} of ${page.total} listing${page.total === 1 ? "" : "s"}`,
    ]);
  });
}

/** Runs `kosmos listing`. */
export function runListing(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "listing", usage: LISTING_USAGE, operands: [1, 1] }, args, io, async (cmd) => {
    const id = cmd.positionals[0];
    const l = await callApi<ListingDetail>(cmd, `/api/v1/listings/${encodeURIComponent(id)}`, {
      what: `find listing ${id}`,
    });
    output(cmd, l, () => [
      `${l.title} (${l.category})`,
      ...(l.description ? [l.description] : []),
      `manifest   ${l.manifestCid}`,
      `price      ${formatKos(l.price)}, licence ${l.licence}`,
      `seller     ${l.seller}`,
      `gateway    ${l.gateway}`,
      `size       ${l.byteLength} bytes, ${l.rowCount} rows, ${l.chunkCount} chunks`,
      `stake      ${formatKos(l.stake)} on registry listing${l.onChain.length === 1 ? "" : "s"} ${
        l.onChain.join(", ") || "none (not buyable)"
      }, ${l.challenges} open challenge${l.challenges === 1 ? "" : "s"}`,
      `providers  ${l.providers.length}${l.replication ? `, replication ${l.replication.status}` : ""}`,
      `published  ${formatTime(l.createdAt)}`,
    ]);
  });
}

/** Runs `kosmos quote`. */
export function runQuote(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "quote", usage: QUOTE_USAGE, operands: [1, 1] }, args, io, async (cmd) => {
    const id = cmd.positionals[0];
    const q = await callApi<QuotePreviewView>(cmd, `/api/v1/listings/${encodeURIComponent(id)}/quote`, {
      what: `quote ${id}`,
    });
    output(cmd, q, () => [
      `Price ${formatKos(q.price)}: ${formatKos(q.split.seller)} to the seller, ${
        formatKos(q.split.gateway)
      } to the gateway, ${formatKos(q.split.treasury)} to the treasury`,
      `Gas about ${q.gas.units} units, ${q.gas.wei} wei`,
    ]);
  });
}

/** Runs `kosmos gateway`. */
export function runGateway(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "gateway", usage: GATEWAY_USAGE, operands: [1, 1] }, args, io, async (cmd) => {
    const id = cmd.positionals[0];
    const [listing, node] = await Promise.all([
      callApi<ListingView>(cmd, `/api/v1/listings/${encodeURIComponent(id)}`, { what: `find listing ${id}` }),
      callApi<{ address: string }>(cmd, "/api/v1/node", { what: "read the node" }),
    ]);
    const view = {
      manifestCid: listing.manifestCid,
      gateway: listing.gateway,
      seller: listing.seller,
      thisNode: listing.gateway.toLowerCase() === node.address.toLowerCase(),
    };
    output(cmd, view, () => [
      `Gateway of ${view.manifestCid}: ${view.gateway}${view.thisNode ? " (this node)" : ""}${
        view.gateway.toLowerCase() === view.seller.toLowerCase() ? ", the seller itself" : ""
      }`,
    ]);
  });
}

/** The search flags applied to this node's own listings (the API lists them all). */
function filterMine(listings: MyListingView[], query: Record<string, string>): MyListingView[] {
  const words = (query.q ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  let out = listings.filter((l) =>
    (!query.category || l.category === query.category) &&
    words.every((w) => l.title.toLowerCase().includes(w))
  );
  if (query.sort === "price") out = out.toSorted((a, b) => Number(BigInt(a.price) - BigInt(b.price)));
  if (query.sort === "stake") out = out.toSorted((a, b) => Number(BigInt(b.stake) - BigInt(a.stake)));
  const offset = Number(query.offset ?? 0) || 0;
  return out.slice(offset, query.limit ? offset + (Number(query.limit) || 0) : undefined);
}

function describeListing(l: ListingView): string {
  return `${l.manifestCid}  ${JSON.stringify(l.title)}  ${l.category}  ${formatKos(l.price)}  stake ${
    formatKos(l.stake)
  }${l.challenges ? `  ${l.challenges} challenged` : ""}`;
}

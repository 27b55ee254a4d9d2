/**
 * The contributor's commands:
 *
 * - `kosmos import KIND FILE [--mapping FILE|JSON]` streams an export file to the node
 *   (`POST /api/v1/sources/:kind/imports`, multipart) with a progress bar of the bytes sent on
 *   stderr, and prints `imported N rows (id …)` once the node has committed every row.
 * - `kosmos sources` lists the imports.
 * - `kosmos publication create --kinds K1,K2 --purpose … --title … --price … --licence …` publishes
 *   an anonymized dataset from the kinds whose consent for the purpose is valid (the fee of the
 *   ownership record is shown and confirmed first, `--yes` to accept it);
 *   `kosmos publication list` lists the publications and their sales.
 */
import { basename } from "node:path";
import type {
  ImportResult,
  PublicationPreview,
  PublicationsView,
  PublicationView,
  SourcesView,
} from "../../protocol/api/sources.ts";
import { SOURCE_KINDS } from "../../protocol/sources.ts";
import { KosmosError } from "../errors.ts";
import { describeFailure, requestNode } from "./args.ts";
import {
  callApi,
  checkCanConfirm,
  type Command,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  confirmPreview,
  formatKos,
  formatTime,
  output,
  runCommand,
  UsageError,
  YES_USAGE,
} from "./command.ts";
import { type ProgressBarInit, readFileWithProgress } from "./progress.ts";
import { encodeMultipart } from "./publish.ts";

export const IMPORT_USAGE = `Usage: kosmos import KIND FILE [--mapping FILE|JSON] [--json]

Imports an export file of one of the services you use into the node, where it stays:
KIND is ${SOURCE_KINDS.join(", ")}.
The file streams to the node with a progress bar on stderr; a corrupt file is refused
with the line or record at fault, and nothing of it is kept.

Flags:
  --mapping FILE|JSON  bank statements: the column mapping, as JSON or a JSON file
                       (default: detected from the file)
${COMMON_FLAGS_USAGE}
`;

export const SOURCES_USAGE = `Usage: kosmos sources [--json]

Lists the imports on the node: kind, file, rows and the time they span.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const PUBLICATION_USAGE =
  `Usage: kosmos publication create --kinds K1,K2 --purpose TEXT --title TEXT --price KOS --licence ID
                                [--k N] [--epsilon E] [--description TEXT] [--yes] [--json]
       kosmos publication list [--json]

create publishes an anonymized dataset from the imports of the kinds given whose consent for
the purpose is valid on chain now (the others are left out, and said so), and records this
node's ownership of it on chain; the network fee is shown first.

Flags:
  --kinds K1,K2        source kinds (${SOURCE_KINDS.join(", ")})
  --purpose TEXT       the purpose, exactly as the consents were granted for it
  --k N                smallest group of rows released alike (default 5)
  --epsilon E          publish noisy counts instead, spending E of each kind's privacy budget
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

/** Bytes read from the file at a time. */

export interface RunImportOptions extends CommandIo {
  /** @default Deno.stderr */
  progressOutput?: ProgressBarInit["output"];
}

/** Runs `kosmos import`. */
export function runImport(args: string[], io: RunImportOptions = {}): Promise<number> {
  const spec = { name: "import", usage: IMPORT_USAGE, operands: [2, 2] as const, flags: ["mapping"] };
  return runCommand(spec, args, io, async (cmd) => {
    const [kind, path] = cmd.positionals;
    if (!(SOURCE_KINDS as readonly string[]).includes(kind)) {
      throw new UsageError(
        `import: unknown kind "${kind.slice(0, 40)}"; the kinds are ${SOURCE_KINDS.join(", ")}`,
      );
    }
    const mapping = cmd.flags.has("mapping") ? await readMapping(cmd.flags.get("mapping")!) : undefined;
    if (mapping !== undefined && kind !== "bank") {
      throw new UsageError("import: --mapping is only for bank statements");
    }
    const { stream: counted, bar } = await readFileWithProgress("import", path, {
      label: "Importing",
      output: io.progressOutput,
    });
    const { body, contentType } = encodeMultipart(mapping === undefined ? [] : [["mapping", mapping]], {
      name: "file",
      filename: basename(path),
      contentType: "application/octet-stream",
      body: counted,
    });
    const response = await requestNode("import", new URL(`/api/v1/sources/${kind}/imports`, cmd.url), {
      token: cmd.token,
      method: "POST",
      headers: { "content-type": contentType, accept: "application/json" },
      body,
      signal: cmd.signal,
    });
    bar.finish();
    if (response.status !== 201) {
      throw new KosmosError(`import: the node refused ${basename(path)}: ${await describeFailure(response)}`);
    }
    const result = await response.json() as ImportResult;
    output(cmd, result, () => [`imported ${result.rows} rows (id ${result.id})`]);
  });
}

/** `--mapping` as JSON text, from the flag itself or from the file it names. */
async function readMapping(value: string): Promise<string> {
  let text = value.trim();
  if (!text.startsWith("{")) {
    try {
      text = await Deno.readTextFile(value);
    } catch (err) {
      throw new UsageError(
        `import: --mapping is neither JSON nor a readable file: ${(err as Error).message}`,
      );
    }
  }
  try {
    JSON.parse(text);
  } catch {
    throw new UsageError("import: --mapping is not valid JSON");
  }
  return text;
}

/** Runs `kosmos sources`. */
export function runSources(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "sources", usage: SOURCES_USAGE, operands: [0, 0] as const };
  return runCommand(spec, args, io, async (cmd) => {
    const view = await callApi<SourcesView>(cmd, "/api/v1/sources", { what: "list the sources" });
    output(cmd, view, () => {
      if (view.sources.length === 0) return ["No sources imported yet (kosmos import KIND FILE)"];
      return table(
        ["ID", "KIND", "FILE", "ROWS", "FROM", "TO", "IMPORTED"],
        view.sources.map((s) => [
          s.id,
          s.kind,
          s.filename,
          String(s.rows),
          s.from === null ? "-" : formatTime(s.from),
          s.to === null ? "-" : formatTime(s.to),
          formatTime(s.importedAt),
        ]),
      );
    });
  });
}

const CREATE_FLAGS = ["kinds", "purpose", "title", "description", "price", "licence", "k", "epsilon"];

/** Runs `kosmos publication create|list`. */
export function runPublication(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "publication",
    usage: PUBLICATION_USAGE,
    operands: [1, 1] as const,
    flags: CREATE_FLAGS,
    signs: true,
  };
  return runCommand(spec, args, io, async (cmd) => {
    const [sub] = cmd.positionals;
    if (sub === "list") {
      const stray = [...cmd.flags.keys()].find((f) => CREATE_FLAGS.includes(f));
      if (stray) throw new UsageError(`publication list: takes no --${stray}`);
      return await listPublications(cmd);
    }
    if (sub !== "create") {
      throw new UsageError(`publication: unknown subcommand "${sub.slice(0, 40)}" (try --help)`);
    }
    await createPublication(cmd);
  });
}

async function createPublication(cmd: Command): Promise<void> {
  const missing = ["kinds", "purpose", "title", "price", "licence"].filter((f) => !cmd.flags.get(f)?.trim());
  if (missing.length > 0) {
    throw new UsageError(
      `publication create: missing ${missing.map((f) => `--${f}`).join(", ")} (try --help)`,
    );
  }
  const number = (flag: string) => {
    const text = cmd.flags.get(flag);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value)) {
      throw new UsageError(`publication create: --${flag} must be a number`);
    }
    return value;
  };
  const body = {
    kinds: cmd.flags.get("kinds")!.split(",").map((k) => k.trim()).filter(Boolean),
    purpose: cmd.flags.get("purpose")!,
    title: cmd.flags.get("title")!,
    ...(cmd.flags.has("description") && { description: cmd.flags.get("description") }),
    price: cmd.flags.get("price")!.trim(),
    licence: cmd.flags.get("licence")!.trim(),
    ...(cmd.flags.has("k") && { k: number("k") }),
    ...(cmd.flags.has("epsilon") && { epsilon: number("epsilon") }),
  };
  checkCanConfirm(cmd);
  const what = "publish the sources";
  await confirmPreview<PublicationPreview>(cmd, "/api/v1/publications", {
    body,
    what,
    describe: (p) =>
      [
        `Publish ${p.kinds?.join(", ")} anonymized as ${JSON.stringify(body.title)} at ${body.price} KOS, ` +
        `and record this wallet's ownership of it on chain`,
        ...(p.excluded ?? []).map((e) => `Left out: ${e.kind} (${e.reason})`),
      ].join("\n"),
  });
  const published = await callApi<PublicationView>(cmd, "/api/v1/publications", { body, what });
  output(cmd, published, () => [
    `published ${published.manifestCid} (${published.rows} rows of ${published.kinds.join(", ")})`,
    ...published.excluded.map((e) => `left out ${e.kind}: ${e.reason}`),
    published.ownershipTokenId === null
      ? "the ownership record failed; the publication stands"
      : `ownership record ${published.ownershipTokenId}`,
  ]);
}

async function listPublications(cmd: Command): Promise<void> {
  const view = await callApi<PublicationsView>(cmd, "/api/v1/publications", {
    what: "list the publications",
  });
  output(cmd, view, () => {
    if (view.publications.length === 0) return ["No publications yet (kosmos publication create --help)"];
    return table(
      ["MANIFEST", "TITLE", "KINDS", "ROWS", "K", "SALES", "REVENUE", "CREATED"],
      view.publications.map((p) => [
        p.manifestCid,
        p.title,
        p.kinds.join(","),
        String(p.rows),
        p.privacy.k === undefined ? "-" : String(p.privacy.k),
        String(p.sales.count),
        formatKos(p.sales.revenue),
        formatTime(p.createdAt),
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

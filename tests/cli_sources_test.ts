/**
 * `kosmos import`, `kosmos sources` and `kosmos publication` as a person runs them: real `kosmos`
 * processes without a terminal, talking to an in-process node over HTTP. The import streams the
 * file with a progress bar on stderr (a line per quarter without a terminal) and prints the rows
 * the node committed; mistakes end with one line and a non-zero code, and keep nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { PublicationsView, PublicationView, SourcesView } from "../protocol/api/mod.ts";
import { kosmos, kosmosJson } from "./cli.ts";
import { tempDir } from "./helpers.ts";
import { startAppNode } from "./node_app.ts";
import { viewingActivity } from "./sources.ts";

Deno.test("kosmos import streams an export with progress; kosmos sources and publication list show it", async () => {
  await using started = await startAppNode("kosmos-cli-sources-");
  await using dir = await tempDir();
  const { node } = started;
  const file = join(dir.path, "ViewingActivity.csv");
  await Deno.writeFile(file, viewingActivity(40_000));
  const size = (await Deno.stat(file)).size;
  assert.ok(size > 3 * 1024 * 1024, `${size} bytes: several reads of the file`);

  const imported = await kosmos(node, ["import", "netflix", file]);
  assert.equal(imported.code, 0, imported.stderr);
  const match = /^imported 40000 rows \(id ([0-9a-f-]{36})\)$/.exec(imported.stdout.trim());
  assert.ok(match, imported.stdout);
  // Without a terminal the bar is a line per quarter, ending at 100 % of the file's size.
  const lines = imported.stderr.trim().split("\n").filter((l) => l.startsWith("Importing"));
  assert.ok(lines.length >= 3, imported.stderr);
  assert.match(lines.at(-1)!, /Importing .* 100 % 3\.\d MiB \/ 3\.\d MiB$/);

  const listed = await kosmosJson<SourcesView>(node, ["sources"]);
  assert.deepEqual(listed.sources.map((s) => [s.id, s.kind, s.filename, s.rows]), [
    [match[1], "netflix", "ViewingActivity.csv", 40_000],
  ]);
  const table = await kosmos(node, ["sources"]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ID\s+KIND\s+FILE\s+ROWS\s+FROM\s+TO\s+IMPORTED\n/);
  assert.match(
    table.stdout,
    new RegExp(`${match[1]}\\s+netflix\\s+ViewingActivity\\.csv\\s+40000\\s+2024-03-01T00:00:00Z`),
  );

  const asJson = await kosmosJson<{ id: string; kind: string; rows: number }>(node, [
    "import",
    "netflix",
    file,
  ]);
  assert.equal(asJson.rows, 40_000);

  const publications = await kosmosJson<PublicationsView>(node, ["publication", "list"]);
  assert.deepEqual(publications.publications, []);

  // Under a valid consent: the fee is shown on stderr, accepted with --yes, the publication printed.
  const purpose = "viewing habits research";
  await node.components.consent.grant({ kind: "netflix", purpose, expiresAt: Date.now() + 86_400_000 });
  const created = await kosmos(node, [
    "publication",
    "create",
    "--kinds",
    "netflix,spotify",
    "--purpose",
    purpose,
    "--title",
    "Viewing, March",
    "--price",
    "2.5",
    "--licence",
    "CC-BY-4.0",
    "--yes",
    "--json",
  ]);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stderr, /Publish netflix anonymized as "Viewing, March" at 2\.5 KOS/);
  assert.match(
    created.stderr,
    /Left out: spotify \(no valid consent for the purpose "viewing habits research"\)/,
  );
  assert.match(created.stderr, /Network fee: at most/);
  const publication = created.json<PublicationView>();
  assert.deepEqual(publication.kinds, ["netflix"]);
  assert.ok(publication.ownershipTokenId !== null);
  const list = await kosmos(node, ["publication", "list"]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(
    list.stdout,
    new RegExp(
      `${publication.manifestCid}\\s+Viewing, March\\s+netflix\\s+${publication.rows}\\s+5\\s+0\\s+0 KOS`,
    ),
  );
});

Deno.test("kosmos import refuses a bad kind, a corrupt file and a mapping where none belongs", async () => {
  await using started = await startAppNode("kosmos-cli-sources-bad-");
  await using dir = await tempDir();
  const { node } = started;
  const good = join(dir.path, "ViewingActivity.csv");
  await Deno.writeFile(good, viewingActivity(100));
  const corrupt = join(dir.path, "Broken.csv");
  await Deno.writeFile(corrupt, viewingActivity(100, { line: 42, start: "2024-13-45" }));

  const unknown = await kosmos(node, ["import", "myspace", good]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown kind "myspace"; the kinds are spotify, netflix/);

  const refused = await kosmos(node, ["import", "netflix", corrupt]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /import: the node refused Broken\.csv: Broken\.csv line 42: .*\(422\)/);

  const mapping = await kosmos(node, ["import", "netflix", good, "--mapping", "{}"]);
  assert.equal(mapping.code, 2);
  assert.match(mapping.stderr, /--mapping is only for bank statements/);

  const missing = await kosmos(node, ["import", "netflix", join(dir.path, "nope.csv")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*nope\.csv/);

  // Signing without a terminal and without --yes is refused before anything is asked of the node.
  const unconfirmed = await kosmos(node, [
    "publication",
    "create",
    "--kinds",
    "netflix",
    "--purpose",
    "viewing research",
    "--title",
    "Viewing",
    "--price",
    "1",
    "--licence",
    "CC0",
  ]);
  assert.equal(unconfirmed.code, 2, unconfirmed.stderr);
  assert.match(unconfirmed.stderr, /pass --yes/);
  const noConsent = await kosmos(node, [
    "publication",
    "create",
    "--kinds",
    "netflix",
    "--purpose",
    "viewing research",
    "--title",
    "Viewing",
    "--price",
    "1",
    "--licence",
    "CC0",
    "--yes",
  ]);
  assert.equal(noConsent.code, 1);
  assert.match(noConsent.stderr, /netflix: no valid consent for the purpose "viewing research" \(409\)/);

  assert.deepEqual((await kosmosJson<SourcesView>(node, ["sources"])).sources, []);
});

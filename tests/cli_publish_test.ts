/**
 * `kosmos publish` and `kosmos fetch` as a person runs them: real `kosmos`
 * processes talking to in-process nodes over HTTP. Publish streams a file to
 * node A with an upload progress bar; fetch makes node B download it with a
 * chunk progress bar; mistakes end with one line and a non-zero code.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startNetwork } from "./nodes.ts";
import { ownerFetch, tempDir } from "./helpers.ts";

const main = new URL("../node/main.ts", import.meta.url).pathname;

async function kosmos(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1", ...env },
  }).output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

function makeCsv(bytes: number): string {
  const lines = ["ts,station,pm25"];
  let size = lines[0].length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `${1_700_000_000_000 + i * 60_000},st${i % 13},${(i * 37) % 500 / 10}`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join("\n") + "\n";
}

Deno.test("kosmos publish uploads a file with progress and kosmos fetch follows it to completion", async () => {
  await using net = await startNetwork(2);
  await using dir = await tempDir();
  await net.waitForMesh();
  const [a, b] = net.nodes;
  const file = join(dir.path, "air.csv");
  const csv = makeCsv(2.2 * 1024 * 1024);
  await Deno.writeTextFile(file, csv);

  const published = await kosmos([
    "publish",
    file,
    "--title",
    "Air, Kreuzberg",
    "--description",
    "Minute readings",
    "--category=environment",
    "--price",
    "1.25",
    "--license",
    "CC-BY-4.0",
    "--url",
    a.url,
    "--data-dir",
    a.config.dataDir,
  ]);
  assert.equal(published.code, 0, published.stderr);
  const result = JSON.parse(published.stdout.trim());
  assert.equal(result.id, result.manifestCid);
  assert.match(published.stderr, /Uploading .* 100 % 2\.2 MiB \/ 2\.2 MiB/);
  assert.match(published.stderr, new RegExp(`Published "Air, Kreuzberg" → ${a.url}/datasets/${result.id}`));
  const listing = await (await ownerFetch(a, `/api/v1/listings/${result.id}`)).json();
  assert.equal(listing.title, "Air, Kreuzberg");
  assert.equal(listing.price, "1250000000000000000");
  assert.equal(listing.byteLength, new TextEncoder().encode(csv).byteLength);
  assert.equal(listing.manifest.filename, "air.csv");

  const fetched = await kosmos(["fetch", result.manifestCid], {
    KOSMOS_URL: b.url,
    KOSMOS_TOKEN: b.apiToken,
  });
  assert.equal(fetched.code, 0, fetched.stderr);
  const progress = JSON.parse(fetched.stdout.trim());
  assert.equal(progress.status, "complete");
  assert.equal(progress.chunksVerified, 3);
  assert.equal(progress.chunksTotal, 3);
  assert.match(fetched.stderr, /Fetching .* 100 % 3 \/ 3/);
  assert.match(fetched.stderr, /Fetched 3 chunks .* every one verified/);
});

Deno.test("kosmos publish and fetch end with one line and a non-zero code on mistakes", async (t) => {
  await using net = await startNetwork(1);
  await using dir = await tempDir();
  const [a] = net.nodes;
  const file = join(dir.path, "x.csv");
  await Deno.writeTextFile(file, makeCsv(2000));
  const fields = ["--title", "X", "--category", "sensors", "--price", "1", "--license", "CC0-1.0"];
  const expectFailure = async (args: string[], message: RegExp, token = a.apiToken) => {
    const { code, stderr } = await kosmos(args, { KOSMOS_TOKEN: token });
    const lines = stderr.trim().split("\n").filter((l) => !/^(Uploading|Fetching) /.test(l));
    assert.notEqual(code, 0);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /^kosmos: /);
    assert.match(lines[0], message);
  };
  await t.step(
    "missing flags",
    () =>
      expectFailure(
        ["publish", file, "--title", "X", "--url", a.url],
        /missing --category, --price, --license/,
      ),
  );
  await t.step(
    "unknown flag",
    () => expectFailure(["publish", file, ...fields, "--colour", "red"], /unknown flag --colour/),
  );
  await t.step(
    "unreadable file",
    () =>
      expectFailure(
        ["publish", join(dir.path, "nope.csv"), ...fields, "--url", a.url],
        /cannot read .*nope\.csv/,
      ),
  );
  await t.step(
    "refused by the node",
    () =>
      expectFailure([
        "publish",
        file,
        ...fields.slice(0, 2),
        "--category",
        "weather",
        ...fields.slice(4),
        "--url",
        a.url,
      ], /refused x\.csv: .*category must be one of .*\(422\)/),
  );
  await t.step("no node at the URL", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    await expectFailure(
      ["publish", file, ...fields, "--url", `http://127.0.0.1:${port}`],
      /cannot reach a Kosmos node at http:\/\/127\.0\.0\.1:\d+/,
    );
  });
  await t.step(
    "a wrong token",
    () =>
      expectFailure(
        ["publish", file, ...fields, "--url", a.url],
        /refused x\.csv: The bearer token is not this node's API token \(401\)/,
        "0".repeat(64),
      ),
  );
  await t.step(
    "no token",
    () =>
      expectFailure(
        ["publish", file, ...fields, "--url", a.url, "--data-dir", dir.path],
        /no API token at .*api-token.*KOSMOS_TOKEN/,
        "",
      ),
  );
  await t.step(
    "fetch of a malformed CID",
    () => expectFailure(["fetch", "bafy-nope", "--url", a.url], /cannot fetch bafy-nope: .*\(422\)/),
  );
});

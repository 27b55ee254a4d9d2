/**
 * The `kosmos` process as a person runs it: flags reach the node, bad config
 * ends it with one line and a non-zero code, signals stop it cleanly, and a
 * restart keeps its identity.
 */
import assert from "node:assert/strict";
import { asOwner, tempDir } from "./helpers.ts";
import { startKosmosProcess } from "./process.ts";

const main = new URL("../node/main.ts", import.meta.url).pathname;

function kosmos(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1", ...env },
  });
}

async function expectFailure(args: string[], message: RegExp, env: Record<string, string> = {}) {
  const { code, stderr, stdout } = await kosmos(args, env).output();
  const lines = new TextDecoder().decode(stderr).trim().split("\n").filter((l) =>
    !/^\d{4}-\d\d-\d\dT/.test(l)
  );
  assert.notEqual(code, 0, `expected failure for ${args.join(" ")}`);
  assert.equal(lines.length, 1, `one line for ${args.join(" ")}, got:\n${lines.join("\n")}`);
  assert.match(lines[0], /^kosmos: /);
  assert.match(lines[0], message);
  assert.doesNotMatch(lines[0] + new TextDecoder().decode(stdout), /\n\s+at /);
}

Deno.test("kosmos ends with one line and a non-zero code on bad config", async (t) => {
  await using dir = await tempDir();
  await t.step(
    "unknown flag",
    () => expectFailure(["--data-dir", dir.path, "--colour", "red"], /unknown flag --colour/),
  );
  await t.step(
    "unknown environment key",
    () =>
      expectFailure(["--data-dir", dir.path], /unknown environment variable KOSMOS_COLOUR/, {
        KOSMOS_COLOUR: "red",
      }),
  );
  await t.step("unknown config file key", async () => {
    await Deno.writeTextFile(`${dir.path}/bad.json`, JSON.stringify({ colour: "red" }));
    await expectFailure(["--config", `${dir.path}/bad.json`], /unknown config key "colour"/);
  });
  await t.step(
    "malformed bootstrap multiaddr",
    () =>
      expectFailure(
        ["--data-dir", dir.path, "--bootstrap", "/ip4/300.1.1.1/tcp/1"],
        /bootstrap address .* is not a valid multiaddr/,
      ),
  );
  await t.step("unwritable data dir", async () => {
    await Deno.writeTextFile(`${dir.path}/a-file`, "");
    await expectFailure(
      ["--data-dir", `${dir.path}/a-file/sub`, "--port", "0"],
      /data dir .* is not writable/,
    );
  });
  await t.step("unreachable rpc url", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close(); // a port nobody listens on
    await expectFailure(
      ["--data-dir", `${dir.path}/n`, "--port", "0", "--rpc-url", `http://127.0.0.1:${port}`],
      new RegExp(`cannot reach rpc url http://127.0.0.1:${port}`),
    );
  });
  await t.step("port in use", async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    await expectFailure(
      ["--data-dir", `${dir.path}/n`, "--port", String(listener.addr.port)],
      new RegExp(`port ${listener.addr.port} on 127.0.0.1 is already in use`),
    );
  });
});

Deno.test("kosmos keeps its peer id and wallet across restarts and exits 0 on SIGTERM and SIGINT", async () => {
  await using dir = await tempDir();
  const identities: { peerId: string; address: string }[] = [];
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    const { child, url, token } = await startKosmosProcess(["--data-dir", dir.path, "--port", "0"]);
    try {
      const info = await (await fetch(`${url}/api/v1/node`, asOwner(token))).json();
      assert.match(info.peerId, /^12D3KooW/);
      assert.match(info.address, /^0x[0-9a-fA-F]{40}$/);
      assert.equal(info.chain.chainId, 31337);
      identities.push({ peerId: info.peerId, address: info.address });
      const page = await fetch(`${url}/network`, asOwner(token));
      assert.equal(page.status, 200);
      assert.match(await page.text(), new RegExp(info.peerId));
    } finally {
      child.kill(signal);
    }
    const status = await child.status;
    assert.equal(status.code, 0, `exit code after ${signal}`);
  }
  assert.deepEqual(identities[1], identities[0]);
});

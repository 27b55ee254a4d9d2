/**
 * Runs every test: makes sure the browser the UI tests drive is installed
 * (Debian's Chromium, through apt when running as root), the servers the stream
 * tests start (Mosquitto, PostgreSQL; likewise) and the NAT test's
 * `ip` and `nft` (iproute2, nftables; likewise), runs `deno test`,
 * and ends with one line `N passed, N failed`.
 *
 *     deno task test [deno test args…]
 *
 * (Not named `test.ts`: `deno test` would take that for a test module.)
 */
import { ensureChromium } from "./chromium.ts";
import { ensureNatTools } from "./nat_tools.ts";
import { ensureMosquitto, ensurePostgres } from "./servers.ts";

const chromium = await ensureChromium();
if (!chromium) {
  console.error("test: Chromium is not installed and cannot be installed here; browser tests will fail");
}
if (!(await ensureMosquitto())) {
  console.error("test: Mosquitto is not installed and cannot be installed here; stream tests will fail");
}
if (!(await ensurePostgres())) {
  console.error("test: PostgreSQL is not installed and cannot be installed here; stream tests will fail");
}
if (!(await ensureNatTools())) {
  console.error("test: no `ip` and `nft` here (or not root); the NAT test will be skipped");
}

const args = ["test", "-A", "--parallel", ...Deno.args];
const child = new Deno.Command(Deno.execPath(), {
  args,
  stdout: "piped",
  stderr: "inherit",
  env: { DENO_JOBS: Deno.env.get("DENO_JOBS") ?? "2", NO_COLOR: "1" },
}).spawn();

let tail = "";
const decoder = new TextDecoder();
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
}
const status = await child.status;
const summary = tail.split("\n").reverse().find((line) => /\|\s*\d+ passed/.test(line));
const passed = Number(summary?.match(/(\d+) passed/)?.[1] ?? 0);
let failed = Number(summary?.match(/(\d+) failed/)?.[1] ?? 0);
if (!status.success && failed === 0) failed = 1; // the runner itself failed (type error, crash)
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(status.success && failed === 0 ? 0 : 1);

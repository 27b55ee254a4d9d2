/**
 * `deno task bench NAME [args…]` runs `scripts/bench/NAME.ts`. Every benchmark
 * prints one JSON line with its figures and a reference measured in the same run
 * (docs/benchmarks.md says what each compares and why that is fair);
 * `deno task bench table` runs them all and prints the README's performance table.
 */
/** Files of this folder that are shared code, not benchmarks. */
const HELPERS = new Set(["mod.ts", "net.ts"]);
const [name, ...rest] = Deno.args;
const available = [...Deno.readDirSync(new URL(".", import.meta.url))]
  .filter((e) => e.isFile)
  .map((e) => e.name)
  .filter((n) => n.endsWith(".ts") && !HELPERS.has(n) && !n.endsWith("_test.ts"))
  .map((n) => n.slice(0, -3))
  .sort();
if (!name || !available.includes(name)) {
  console.error(`usage: deno task bench <${available.join("|")}> [args…]`);
  Deno.exit(2);
}
const { success, code } = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL(`./${name}.ts`, import.meta.url).pathname, ...rest],
  stdout: "inherit",
  stderr: "inherit",
}).output();
Deno.exit(success ? 0 : code);

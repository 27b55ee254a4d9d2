/**
 * `deno task bench NAME [args…]` runs `scripts/bench/NAME.ts`. Every benchmark
 * prints one JSON line with its figures and a reference measured in the same run.
 */
const [name, ...rest] = Deno.args;
const available = [...Deno.readDirSync(new URL(".", import.meta.url))]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".ts") && n !== "mod.ts" && !n.endsWith("_test.ts"))
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

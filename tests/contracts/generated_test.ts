import assert from "node:assert/strict";
import { hashContractsInput, readContractsInput } from "../../contracts/compile.ts";
import { contractsInputHash } from "../../protocol/contracts_generated.ts";

Deno.test("protocol/contracts_generated.ts is up to date with contracts/src (run `deno task contracts compile`)", async () => {
  const input = await readContractsInput(new URL("../../", import.meta.url));
  assert.ok(Object.keys(input.sources).length >= 12, "finds the contract sources");
  assert.equal(contractsInputHash, hashContractsInput(input), "protocol/contracts_generated.ts is stale");
});

Deno.test("hashContractsInput() changes with any source byte", async () => {
  const input = await readContractsInput(new URL("../../", import.meta.url));
  const [path] = Object.keys(input.sources);
  const edited = { ...input, sources: { ...input.sources, [path]: `${input.sources[path]} ` } };
  assert.notEqual(hashContractsInput(edited), hashContractsInput(input));
});

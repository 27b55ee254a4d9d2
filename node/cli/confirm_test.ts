import assert from "node:assert/strict";
import { confirmFee, describeFee, FeeNotConfirmedError } from "./confirm.ts";

const preview = {
  fee: {
    gas: "198101",
    maxFeePerGas: "2000000000",
    maxPriorityFeePerGas: "1000000000",
    fee: "396202000000000",
  },
};

/** Runs confirmFee with a scripted terminal; answers what it wrote and whether it went through. */
async function run(options: { yes: boolean; terminal: boolean; answer?: string | null }) {
  const lines: string[] = [];
  let asked = false;
  const result = await confirmFee({ yes: options.yes, json: false }, preview, "Buy bafy… for 5 KOS", {
    isTerminal: () => options.terminal,
    readLine: () => {
      asked = true;
      return Promise.resolve(options.answer ?? null);
    },
    write: (line) => lines.push(line),
  }).then(() => "proceeded", (err) => err);
  return { lines, asked, result };
}

Deno.test("describeFee() names the action, the fee in ETH and its gas × price per gas in gwei", () => {
  assert.equal(
    describeFee(preview.fee, "Stake 100 KOS"),
    "Stake 100 KOS\nNetwork fee: at most 0.000396202 ETH (198101 gas × 2 gwei, tip 1 gwei)",
  );
});

Deno.test("confirmFee() with --yes shows the fee and goes on without asking", async () => {
  const { lines, asked, result } = await run({ yes: true, terminal: false });
  assert.equal(result, "proceeded");
  assert.equal(asked, false);
  assert.match(lines.join("\n"), /Buy bafy… for 5 KOS\nNetwork fee: at most 0\.000396202 ETH/);
});

Deno.test("confirmFee() without a terminal and without --yes refuses with exit code 2 and asks nothing", async () => {
  const { asked, result } = await run({ yes: false, terminal: false });
  assert.ok(result instanceof FeeNotConfirmedError);
  assert.equal(result.exitCode, 2);
  assert.match(result.message, /pass --yes/);
  assert.equal(asked, false);
});

Deno.test("confirmFee() on a terminal asks Proceed? [y/N] and goes on only on yes", async () => {
  for (const answer of ["y", "Y", "yes", " yes "]) {
    const { lines, asked, result } = await run({ yes: false, terminal: true, answer });
    assert.equal(result, "proceeded", answer);
    assert.ok(asked);
    assert.equal(lines.at(-1), "Proceed? [y/N] ");
  }
  for (const answer of ["", "n", "no", "yess", null]) {
    const { result } = await run({ yes: false, terminal: true, answer });
    assert.ok(result instanceof FeeNotConfirmedError, String(answer));
    assert.match(result.message, /nothing was signed/);
  }
});

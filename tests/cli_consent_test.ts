/**
 * `kosmos consent` as a person runs it, against a real node on its embedded chain: `grant`
 * without `--yes` and without a terminal signs nothing (exit 2), with `--yes` grants on chain,
 * `list` shows it (a table, or `--json`), `revoke` withdraws it; bad usage exits 2, a refused
 * action (an unknown consent, one already revoked) exits 1. Each `--json` answer is checked
 * against the consent contract.
 */
import assert from "node:assert/strict";
import type { ConsentView } from "../protocol/api/mod.ts";
import { getConsent, isConsentValid, toPurposeId, toSourceId } from "../node/services/chain/mod.ts";
import { parseExpires } from "../node/cli/consent.ts";
import { kosmos, kosmosJson } from "./cli.ts";
import { startAppNode } from "./node_app.ts";

Deno.test("parseExpires() reads durations and ISO dates and refuses anything else", () => {
  const now = Date.UTC(2026, 0, 1);
  assert.equal(parseExpires("30d", now), now + 30 * 86_400_000);
  assert.equal(parseExpires("90m", now), now + 90 * 60_000);
  assert.equal(parseExpires("1y", now), now + 31_557_600_000);
  assert.equal(parseExpires("2027-03-01", now), Date.UTC(2027, 2, 1));
  assert.equal(parseExpires("2027-03-01T12:00:00Z", now), Date.UTC(2027, 2, 1, 12));
  for (const bad of ["", "30", "30s", "tomorrow", "2027-13-45", "-5d"]) {
    assert.throws(() => parseExpires(bad, now), (err: Error) => err.name === "UsageError", bad);
  }
});

Deno.test("kosmos consent grant, list and revoke act on the consent contract", async (t) => {
  await using started = await startAppNode("kosmos-cli-consent-");
  const { node } = started;
  const chain = node.components.chain;
  const grant = ["consent", "grant", "amazon", "--purpose", "shopping trends", "--expires", "30d"];
  let id = "";

  await t.step("grant without --yes and without a terminal signs nothing and exits 2", async () => {
    const block = await chain.publicClient.getBlockNumber({ cacheTime: 0 });
    const run = await kosmos(node, grant);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /Network fee: at most/);
    assert.match(run.stderr, /--yes/);
    assert.equal(await chain.publicClient.getBlockNumber({ cacheTime: 0 }), block);
  });

  await t.step("bad usage exits 2 with a message", async () => {
    for (
      const [args, message] of [
        [["consent"], /expected 1 to 2 arguments/],
        [["consent", "sign"], /unknown subcommand "sign"/],
        [["consent", "grant", "myspace", "--purpose", "x y z", "--expires", "1d"], /unknown kind "myspace"/],
        [["consent", "grant", "amazon", "--expires", "1d"], /--purpose/],
        [["consent", "grant", "amazon", "--purpose", "x y z", "--expires", "soon"], /neither a duration/],
        [["consent", "revoke", "abc"], /not a consent id/],
        [["consent", "list", "--purpose", "x"], /takes no --purpose/],
      ] as const
    ) {
      const run = await kosmos(node, [...args]);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });

  await t.step("grant --yes grants on chain", async () => {
    const consent = await kosmosJson<ConsentView>(node, [...grant, "--yes"]);
    id = consent.id;
    assert.deepEqual([consent.kind, consent.purpose, consent.state, consent.contributor], [
      "amazon",
      "shopping trends",
      "valid",
      node.address,
    ]);
    const expectedExpiry = Date.now() + 30 * 86_400_000;
    assert.ok(Math.abs(consent.expiresAt - expectedExpiry) < 120_000);
    const onChain = await getConsent(chain.client, { consentId: BigInt(id) });
    assert.equal(onChain?.source, toSourceId("amazon"));
    assert.equal(onChain?.purpose, toPurposeId("shopping trends"));
    assert.equal(await isConsentValid(chain.client, { consentId: BigInt(id) }), true);
    const purposeTooShort = await kosmos(node, [
      "consent",
      "grant",
      "amazon",
      "--purpose",
      "ab",
      "--expires",
      "1d",
    ]);
    assert.equal(purposeTooShort.code, 1, "the node refuses it");
    assert.match(purposeTooShort.stderr, /3 to 200 characters/);
  });

  await t.step("list prints a table, and --json the consents", async () => {
    const run = await kosmos(node, ["consent", "list"]);
    assert.equal(run.code, 0, run.stderr);
    const [header, row] = run.stdout.trim().split("\n");
    assert.match(header, /^ID\s+KIND\s+PURPOSE\s+STATE\s+EXPIRES\s+HOLDER\s+GASLESS$/);
    assert.match(row, new RegExp(`^${id}\\s+amazon\\s+shopping trends\\s+valid\\s+`));
    const { consents } = await kosmosJson<{ consents: ConsentView[] }>(node, ["consent", "list"]);
    assert.deepEqual(consents.map((c) => [c.id, c.state]), [[id, "valid"]]);
  });

  await t.step("revoke --yes revokes on chain; again, or an unknown id, exits 1", async () => {
    const revoked = await kosmosJson<ConsentView>(node, ["consent", "revoke", id, "--yes"]);
    assert.equal(revoked.state, "revoked");
    assert.match(revoked.revokeTxHash ?? "", /^0x[0-9a-f]{64}$/);
    assert.equal(await isConsentValid(chain.client, { consentId: BigInt(id) }), false);
    const again = await kosmos(node, ["consent", "revoke", id, "--yes"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already revoked/);
    const unknown = await kosmos(node, ["consent", "revoke", "999", "--yes"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No consent 999/);
    const { consents } = await kosmosJson<{ consents: ConsentView[] }>(node, ["consent", "list"]);
    assert.deepEqual(consents.map((c) => [c.id, c.state]), [[id, "revoked"]]);
  });
});

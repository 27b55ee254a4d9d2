import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import type { Consents } from "../consent/mod.ts";
import type { Sources } from "../sources/mod.ts";
import { CODE_ALPHABET, createPairingCode, digest, normalizePairingCode } from "./codes.ts";
import { Extension, type ExtensionInit } from "./extension.ts";

/** Pairing never reads consents or sources: touching either fails the test. */
const untouched = new Proxy({}, {
  get: (_, name) => {
    throw new Error(`pairing must not touch ${String(name)}`);
  },
});

function startExtension(init: ExtensionInit = {}) {
  const db = openDatabase(":memory:");
  const clock = { now: Date.UTC(2026, 0, 1) };
  const ext = new Extension({
    db,
    consent: untouched as Consents,
    sources: untouched as Sources,
    log: createLogger({ level: "error" }).forComponent("kosmos:extension"),
  }, { now: () => clock.now, ...init });
  ext.start();
  return { db, ext, clock };
}

Deno.test("createPairingCode() draws 8 characters of the unambiguous alphabet, shown as ABCD-EFGH", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const code = createPairingCode();
    assert.match(code, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
    seen.add(code);
  }
  assert.equal(seen.size, 2000, "no repeats in 2000 draws");
  assert.ok(!/[01ILO]/.test(CODE_ALPHABET));
  assert.equal(normalizePairingCode(" abcd efgh "), "ABCDEFGH");
  assert.equal(normalizePairingCode("ABCD-EFG0"), null, "0 is not in the alphabet");
  assert.equal(normalizePairingCode("ABCD-EFGHJ"), null);
});

Deno.test("Extension.pair() trades a code once for a token; only digests are stored", () => {
  const { db, ext } = startExtension();
  const { code } = ext.createPairing();
  const { id, token } = ext.pair(code, { caller: "127.0.0.1" });
  assert.equal(ext.authenticate(token).id, id);
  assert.throws(() => ext.pair(code, { caller: "127.0.0.1" }), { name: "PairingCodeError" });
  const dump = JSON.stringify([
    db.prepare("SELECT * FROM extension_pairings").all(),
    db.prepare("SELECT * FROM extension_tokens").all(),
  ]);
  assert.ok(!dump.includes(token) && !dump.includes(code.replace("-", "")), "no secret in the tables");
  assert.ok(dump.includes(digest(token)));
  ext.revokeToken(id);
  assert.throws(() => ext.authenticate(token), { name: "ExtensionTokenError" });
  assert.throws(() => ext.revokeToken(id), { name: "NotFoundError" });
});

Deno.test("Extension.pair() refuses an expired code, and keeps at most 3 codes pending", () => {
  const { ext, clock } = startExtension();
  const old = ext.createPairing();
  clock.now += 10 * 60_000;
  assert.throws(() => ext.pair(old.code, { caller: "10.0.0.1" }), { name: "PairingCodeError" });
  const codes = [1, 2, 3, 4].map(() => {
    clock.now += 1000;
    return ext.createPairing().code;
  });
  assert.equal(ext.pendingPairings(), 3);
  assert.throws(
    () => ext.pair(codes[0], { caller: "10.0.0.2" }),
    { name: "PairingCodeError" },
    "the oldest went",
  );
  assert.ok(ext.pair(codes[3], { caller: "10.0.0.3" }).token);
});

Deno.test("Extension.pair() limits attempts per client (IPv6 by its /64) and in all", () => {
  const { ext, clock } = startExtension({ pairBurst: 3, pairEvery: 60, pairAllBurst: 5, pairAllEvery: 10 });
  for (let i = 0; i < 3; i++) {
    assert.throws(() => ext.pair("2345-6789", { caller: `2001:db8::${i}` }), { name: "PairingCodeError" });
  }
  assert.throws(
    () => ext.pair("2345-6789", { caller: "2001:db8::99" }),
    (err: Error & { retryAfter?: number }) => err.name === "ExtensionRateLimitError" && err.retryAfter! >= 1,
  );
  assert.throws(() => ext.pair("2345-6789", { caller: "10.0.0.1" }), { name: "PairingCodeError" });
  assert.throws(() => ext.pair("2345-6789", { caller: "10.0.0.2" }), { name: "PairingCodeError" });
  assert.throws(
    () => ext.pair("2345-6789", { caller: "10.0.0.3" }),
    { name: "ExtensionRateLimitError" },
    "in all",
  );
  clock.now += 60_000;
  assert.throws(
    () => ext.pair("2345-6789", { caller: "2001:db8::7" }),
    { name: "PairingCodeError" },
    "refilled",
  );
});

Deno.test("Extension.authenticate() refuses malformed, unknown and owner-like tokens", () => {
  const { ext } = startExtension();
  for (const token of ["", "kx_", `kx_${"A".repeat(43)}`, "a".repeat(64), `kx_${"A".repeat(42)}!`]) {
    assert.throws(() => ext.authenticate(token), { name: "ExtensionTokenError" }, token);
  }
});

import assert from "node:assert/strict";
import { loadIdentity } from "./mod.ts";

Deno.test("loadIdentity() creates 0600 keys once and returns the same identity on restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await loadIdentity(dir);
    const second = await loadIdentity(dir);
    assert.equal(second.peerId.toString(), first.peerId.toString());
    assert.equal(second.account.address, first.account.address);
    assert.match(first.peerId.toString(), /^12D3KooW/);
    for (const name of ["node.key", "wallet.key"]) {
      assert.equal((await Deno.stat(`${dir}/keys/${name}`)).mode! & 0o777, 0o600, name);
    }
    const other = await Deno.makeTempDir();
    try {
      assert.notEqual((await loadIdentity(other)).peerId.toString(), first.peerId.toString());
    } finally {
      await Deno.remove(other, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadIdentity() rejects a corrupt wallet key instead of replacing it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await loadIdentity(dir);
    await Deno.writeTextFile(`${dir}/keys/wallet.key`, "not a key");
    await assert.rejects(loadIdentity(dir), { name: "ConfigError", message: /wallet key .* is corrupt/ });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

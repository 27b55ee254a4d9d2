import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { NotFoundError } from "../../errors.ts";
import { createLogger } from "../../log.ts";
import { CorruptBlockError } from "./errors.ts";
import { openBlockStore } from "./store.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-blocks-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `n` random bytes (getRandomValues fills at most 64 KiB at a time). */
function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

function fileOf(dir: string, cid: CID): string {
  const key = cid.toString();
  return `${dir}/blocks/${key.slice(-3, -1)}/${key}`;
}

Deno.test("BlockStore put(), get(), has(), list(), usage() and delete() agree on raw and dag-cbor blocks", async () => {
  await withDir(async (dir) => {
    const store = await openBlockStore(dir);
    const a = crypto.getRandomValues(new Uint8Array(3000));
    const cidA = await store.put(a);
    assert.equal(cidA.toString(), CID.createV1(0x55, await sha256.digest(a)).toString());
    assert.equal(String(await store.put(a)), String(cidA), "putting twice is a no-op");
    const manifest = dagCbor.encode({ v: 1, link: cidA });
    const cidM = CID.createV1(0x71, await sha256.digest(manifest));
    assert.equal((await store.put(manifest, { cid: cidM })).toString(), cidM.toString());
    assert.ok(await store.has(cidA));
    assert.ok(await store.has(cidM));
    assert.deepEqual(await store.get(cidA), a);
    assert.deepEqual(await store.get(cidM), manifest);
    assert.deepEqual(
      (await Array.fromAsync(store.list())).map(String).sort(),
      [cidA, cidM].map(String).sort(),
    );
    assert.deepEqual(await store.usage(), { blocks: 2, bytes: a.byteLength + manifest.byteLength });
    assert.equal(await store.delete(cidA), true);
    assert.equal(await store.delete(cidA), false);
    assert.equal(await store.has(cidA), false);
    await assert.rejects(() => store.get(cidA), NotFoundError);
    // Reopening finds what is there.
    const again = await openBlockStore(dir);
    assert.deepEqual(await again.get(cidM), manifest);
  });
});

Deno.test("BlockStore put() rejects bytes that do not match the given CID and unsupported CIDs", async () => {
  await withDir(async (dir) => {
    const store = await openBlockStore(dir);
    const cid = CID.createV1(0x55, await sha256.digest(new Uint8Array([1])));
    await assert.rejects(() => store.put(new Uint8Array([2]), { cid }), /bytes hash to/);
    const v0 = CID.createV0(await sha256.digest(new Uint8Array([1])));
    await assert.rejects(() => store.put(new Uint8Array([1]), { cid: v0 as unknown as CID }), TypeError);
    assert.deepEqual(await store.usage(), { blocks: 0, bytes: 0 });
  });
});

Deno.test("BlockStore get() detects a corrupted file, removes it and throws CorruptBlockError", async () => {
  await withDir(async (dir) => {
    const lines: string[] = [];
    const store = await openBlockStore(dir, {
      log: createLogger({ level: "debug", write: (l) => lines.push(l) }).forComponent("kosmos:blocks"),
    });
    const bytes = crypto.getRandomValues(new Uint8Array(2048));
    const cid = await store.put(bytes);
    const path = fileOf(dir, cid);
    const onDisk = await Deno.readFile(path);
    onDisk[1000] ^= 0xff;
    await Deno.writeFile(path, onDisk);
    await assert.rejects(() => store.get(cid), (err: Error) => {
      assert.ok(err instanceof CorruptBlockError);
      assert.equal(err.name, "CorruptBlockError");
      return true;
    });
    assert.equal(await store.has(cid), false, "the corrupt file is gone");
    assert.match(lines.join("\n"), /removed corrupt block/);
    assert.doesNotMatch(lines.join("\n"), /bytes":\[|\d+,\d+,\d+/, "never logs payload bytes");
    // A truncated file is corrupt too.
    const cid2 = await store.put(bytes);
    await Deno.truncate(fileOf(dir, cid2), 10);
    await assert.rejects(() => store.get(cid2), CorruptBlockError);
  });
});

Deno.test("BlockStore ignores a write killed half way and openBlockStore() sweeps it", async () => {
  await withDir(async (dir) => {
    const bytes = crypto.getRandomValues(new Uint8Array(64 * 1024));
    // A child process starts writing a block and is killed before it can finish.
    const script = `
      import { openBlockStore } from ${JSON.stringify(new URL("./store.ts", import.meta.url).href)};
      const store = await openBlockStore(${JSON.stringify(dir)});
      const big = new Uint8Array(16 * 1024 * 1024);
      const originalWrite = Deno.FsFile.prototype.write;
      Deno.FsFile.prototype.write = async function (p) {
        const n = await originalWrite.call(this, p.subarray(0, 4096));
        console.log("written");
        await new Promise(() => {}); // hang mid-write until killed
        return n;
      };
      await store.put(big);
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      stdout: "piped",
      stderr: "inherit",
      cwd: new URL("../../../", import.meta.url).pathname,
    }).spawn();
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /written/);
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();

    const tmp = await Array.fromAsync(Deno.readDir(`${dir}/blocks/.tmp`));
    assert.equal(tmp.length, 1, "the killed write left a temp file");
    const store = await openBlockStore(dir);
    assert.equal(
      (await Array.fromAsync(Deno.readDir(`${dir}/blocks/.tmp`))).length,
      0,
      "open sweeps temp files",
    );
    assert.deepEqual(await store.usage(), { blocks: 0, bytes: 0 });
    assert.deepEqual(await Array.fromAsync(store.list()), []);

    // A stray partial file at a final path is not trusted either.
    const cid = await store.put(bytes);
    await Deno.writeFile(fileOf(dir, cid), bytes.subarray(0, 100));
    await assert.rejects(() => store.get(cid), CorruptBlockError);
  });
});

Deno.test("BlockStore put({ verified }) stores without hashing again, needs a CID, and get() still checks it", async () => {
  await withDir(async (dir) => {
    const store = await openBlockStore(dir);
    const bytes = crypto.getRandomValues(new Uint8Array(2000));
    const cid = CID.createV1(0x55, await sha256.digest(bytes));
    assert.equal(String(await store.put(bytes, { cid, verified: true })), String(cid));
    assert.deepEqual(await store.get(cid), bytes);
    await assert.rejects(store.put(bytes, { verified: true }), TypeError);
    // A caller that lies about having verified gets its block refused on read, not served.
    const other = CID.createV1(0x55, await sha256.digest(new Uint8Array(1)));
    await store.put(bytes, { cid: other, verified: true });
    await assert.rejects(store.get(other), CorruptBlockError);
    assert.equal(await store.has(other), false);
  });
});

Deno.test("BlockStore put() makes its fan-out directory again when it was removed", async () => {
  await withDir(async (dir) => {
    const store = await openBlockStore(dir);
    const a = crypto.getRandomValues(new Uint8Array(100));
    const cid = await store.put(a);
    await Deno.remove(fileOf(dir, cid).slice(0, fileOf(dir, cid).lastIndexOf("/")), { recursive: true });
    await store.put(a);
    assert.deepEqual(await store.get(cid), a);
  });
});

Deno.test("BlockStore moves large blocks through its workers: put(), putChecked(), check() and get() keep every check", async () => {
  await withDir(async (dir) => {
    const store = await openBlockStore(dir);
    try {
      const size = 1024 * 1024 + 28;
      const a = randomBytes(size);
      const cidA = CID.createV1(0x55, await sha256.digest(a));
      assert.equal(String(await store.put(a, { cid: cidA })), String(cidA));
      assert.equal(a.byteLength, size, "put() leaves the caller's bytes alone");
      await assert.rejects(() => store.put(a.slice(1), { cid: cidA }), /bytes hash to/);
      assert.deepEqual(await store.get(cidA), a);

      // putChecked() takes the buffer over and hands back the same bytes once durable.
      const b = randomBytes(size);
      const cidB = CID.createV1(0x55, await sha256.digest(b));
      const copy = b.slice();
      const back = await store.putChecked(cidB, copy);
      assert.ok(back);
      assert.deepEqual(back, b);
      assert.ok(await store.has(cidB));
      assert.deepEqual(await store.get(cidB), b);
      assert.ok(await store.putChecked(cidB, b.slice()), "storing twice is a no-op");

      // Bytes that are not the block are refused and nothing is written.
      const c = randomBytes(size);
      const cidC = CID.createV1(0x55, await sha256.digest(c));
      const wrong = c.slice();
      wrong[12345] ^= 1;
      assert.equal(await store.putChecked(cidC, wrong.slice()), undefined);
      assert.equal(await store.has(cidC), false);
      assert.equal(
        (await Array.fromAsync(Deno.readDir(`${dir}/blocks/.tmp`))).length,
        0,
        "no temp file left",
      );

      // check(): a view on a larger buffer is copied, an owned buffer can be handed over.
      const big = new Uint8Array(size + 10);
      big.set(c, 5);
      const view = big.subarray(5, 5 + size);
      assert.equal(
        await store.check(cidC, view, { transfer: true }),
        view,
        "a partial view stays the caller's",
      );
      assert.equal(big.byteLength, size + 10);
      const owned = c.slice();
      const checked = await store.check(cidC, owned, { transfer: true });
      assert.deepEqual(checked, c);
      assert.equal(await store.check(cidC, wrong.slice()), undefined);

      // A large block corrupted on disk is found by the worker's re-check, removed and reported.
      const bytes = await Deno.readFile(fileOf(dir, cidA));
      bytes[size - 1] ^= 0xff;
      await Deno.writeFile(fileOf(dir, cidA), bytes);
      await assert.rejects(() => store.get(cidA), CorruptBlockError);
      assert.equal(await store.has(cidA), false);
      await assert.rejects(() => store.get(cidA), NotFoundError);
    } finally {
      store.close();
    }
  });
});

/** Name and nice value of every thread of this process (Linux `/proc`). */
function threadNices(): { name: string; tid: number; nice: number }[] {
  const out = [];
  for (const { name } of Deno.readDirSync("/proc/self/task")) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/self/task/${name}/stat`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue; // the thread ended since the listing
      throw err;
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    // Fields after "comm)": state is the first; nice is field 19 of stat(5), the 17th here.
    const nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
    out.push({ name: comm, tid: Number(name), nice });
  }
  return out;
}

Deno.test({
  name: "BlockStore workers run below the event loop's priority, and only they do",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await withDir(async (dir) => {
      const before = new Set(threadNices().map((t) => t.tid));
      const store = await openBlockStore(dir);
      try {
        const bytes = randomBytes(256 * 1024);
        const cid = CID.createV1(0x55, await sha256.digest(bytes));
        await store.put(bytes, { cid }); // starts the worker
        const started = threadNices().filter((t) => !before.has(t.tid) && t.name.startsWith("worker-"));
        assert.ok(started.length >= 1, "the put ran on a block worker thread");
        for (const t of started) assert.equal(t.nice, 10, `${t.name} runs at nice 10`);
        assert.equal(threadNices().find((t) => t.tid === Deno.pid)?.nice, 0, "the event loop keeps nice 0");
      } finally {
        store.close();
      }
    });
  },
});

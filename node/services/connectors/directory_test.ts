import assert from "node:assert/strict";
import { join } from "node:path";
import { directoryConnector, getBatchFilename } from "./directory.ts";
import { readRows } from "./read_rows.ts";
import type { DeliveryAttempt } from "./connector.ts";

Deno.test("directoryConnector() writes each batch to its numbered file and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = join(dir, "out", "trips"); // created on first delivery
    const connector = directoryConnector({ dir: target });
    const attempts: DeliveryAttempt[] = [];
    const onAttempt = (a: DeliveryAttempt) => attempts.push(a);
    await connector.deliver({ rows: [{ a: "1,2", b: 'q"' }], format: "csv", seq: 1 }, { onAttempt });
    await connector.deliver({ rows: [{ a: 3 }, { a: 4 }], format: "ndjson", seq: 2 }, { onAttempt });
    const names = [];
    for await (const entry of Deno.readDir(target)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["batch-000001.csv", "batch-000002.ndjson"]);
    assert.equal(await Deno.readTextFile(join(target, "batch-000001.csv")), 'a,b\r\n"1,2","q"""\r\n');
    assert.equal(await Deno.readTextFile(join(target, getBatchFilename(2, "ndjson"))), '{"a":3}\n{"a":4}\n');
    const back = [];
    for await (
      const rows of readRows(ReadableStream.from([await Deno.readFile(join(target, "batch-000001.csv"))]))
    ) {
      back.push(...rows);
    }
    assert.deepEqual(back, [{ a: "1,2", b: 'q"' }]);
    assert.deepEqual(attempts, [{ seq: 1, attempt: 1 }, { seq: 2, attempt: 1 }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("directoryConnector() refuses a relative directory", () => {
  assert.throws(() => directoryConnector({ dir: "exports" }), TypeError);
});

Deno.test("directoryConnector() fails with DeliveryError naming the file when it cannot write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "not-a-dir");
    await Deno.writeTextFile(file, "");
    const connector = directoryConnector({ dir: file });
    await assert.rejects(
      connector.deliver({ rows: [{ a: 1 }], format: "ndjson", seq: 1 }, {}),
      (err: Error) => err.name === "DeliveryError" && err.message.includes("batch-000001.ndjson"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("directoryConnector() checks the directory before every batch: a symlink swapped in later is refused", async () => {
  const root = await Deno.makeTempDir();
  try {
    const deliveries = join(root, "deliveries");
    const outside = join(root, "outside");
    await Deno.mkdir(outside);
    const target = join(deliveries, "trips");
    const connector = directoryConnector({ dir: target, policy: { deliveriesDir: deliveries } });
    await connector.deliver({ rows: [{ a: 1 }], format: "ndjson", seq: 1 }, {});
    await Deno.remove(target, { recursive: true });
    await Deno.symlink(outside, target);
    await assert.rejects(
      connector.deliver({ rows: [{ a: 2 }], format: "ndjson", seq: 2 }, {}),
      (err: Error) => err.name === "DeliveryError" && /not under/.test(err.message),
    );
    assert.deepEqual([...Deno.readDirSync(outside)], [], "nothing written through the symlink");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

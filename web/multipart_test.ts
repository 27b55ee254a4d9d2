/**
 * The streaming multipart reader against bodies encoded by the platform's
 * own `FormData` serializer, cut into chunks at every awkward place
 * (including inside a boundary), and against malformed bodies.
 */
import assert from "node:assert/strict";
import { getBoundary, MultipartError, type MultipartPart, readMultipart, readPartText } from "./multipart.ts";
import { type SpooledUpload, spoolUpload } from "./upload_spool.ts";

async function encode(form: FormData): Promise<{ bytes: Uint8Array; boundary: string }> {
  const request = new Request("http://localhost/", { method: "POST", body: form });
  const boundary = getBoundary(request.headers.get("content-type"));
  assert.ok(boundary);
  return { bytes: new Uint8Array(await request.arrayBuffer()), boundary };
}

function streamOf(bytes: Uint8Array, pieceSize: number): ReadableStream<Uint8Array> {
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += pieceSize) pieces.push(bytes.slice(i, i + pieceSize));
  return ReadableStream.from(pieces);
}

interface ReadPart {
  name: string;
  filename?: string;
  contentType?: string;
  bytes: Uint8Array;
  last: boolean;
}

async function readAll(body: ReadableStream<Uint8Array>, boundary: string): Promise<ReadPart[]> {
  const out: ReadPart[] = [];
  for await (const part of readMultipart(body, boundary)) {
    const bytes = new Uint8Array(await new Response(part.body).arrayBuffer());
    out.push({
      name: part.name,
      filename: part.filename,
      contentType: part.contentType,
      bytes,
      last: part.last,
    });
  }
  return out;
}

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
  return bytes;
}

Deno.test("getBoundary() reads the boundary and rejects multipart types without one", () => {
  assert.equal(getBoundary('multipart/form-data; boundary="a b"'), "a b");
  assert.equal(getBoundary("Multipart/Form-Data;charset=utf-8;boundary=xyz"), "xyz");
  assert.equal(getBoundary("application/json"), undefined);
  assert.equal(getBoundary(null), undefined);
  assert.throws(() => getBoundary("multipart/form-data"), MultipartError);
  assert.throws(() => getBoundary("multipart/form-data; boundary=" + "x".repeat(71)), MultipartError);
});

Deno.test("readMultipart() returns the fields and file of a FormData body cut at every size", async () => {
  const file = randomBytes(200_000);
  // Bytes that look like the start of a delimiter inside the file.
  file.set(new TextEncoder().encode("\r\n--\r\n-"), 1000);
  const form = new FormData();
  form.append("title", "Taxi trips, May ✓");
  form.append("empty", "");
  form.append("file", new File([file], "dir/trips.csv", { type: "text/csv" }));
  const { bytes, boundary } = await encode(form);
  for (const size of [2, 7, 45, 46, 47, 4096, 65536, bytes.length]) {
    const parts = await readAll(streamOf(bytes, size), boundary);
    assert.deepEqual(parts.map((p) => p.name), ["title", "empty", "file"], `piece size ${size}`);
    assert.equal(new TextDecoder().decode(parts[0].bytes), "Taxi trips, May ✓");
    assert.equal(parts[1].bytes.length, 0);
    assert.equal(parts[2].filename, "trips.csv");
    assert.equal(parts[2].contentType, "text/csv");
    assert.deepEqual(parts[2].bytes, file, `file bytes with piece size ${size}`);
    assert.deepEqual(parts.map((p) => p.last), [false, false, true]);
  }
});

Deno.test("readMultipart() skips a part body the consumer did not read", async () => {
  const form = new FormData();
  form.append("skipped", new File([randomBytes(70_000)], "a.bin"));
  form.append("kept", "yes");
  const { bytes, boundary } = await encode(form);
  const names: string[] = [];
  let kept = "";
  for await (const part of readMultipart(streamOf(bytes, 1000), boundary)) {
    names.push(part.name);
    if (part.name === "kept") kept = await readPartText(part, { maxBytes: 10 });
  }
  assert.deepEqual(names, ["skipped", "kept"]);
  assert.equal(kept, "yes");
});

Deno.test("readPartText() refuses a field larger than its limit", async () => {
  const form = new FormData();
  form.append("title", "x".repeat(100));
  const { bytes, boundary } = await encode(form);
  const parts = readMultipart(streamOf(bytes, 64), boundary);
  const { value } = await parts.next();
  await assert.rejects(readPartText(value as MultipartPart, { maxBytes: 99 }), RangeError);
  await parts.return(undefined);
});

Deno.test("readMultipart() rejects malformed bodies with a MultipartError", async (t) => {
  const form = new FormData();
  form.append("title", "hello");
  form.append("file", new File(["a,b\n1,2\n"], "x.csv"));
  const { bytes, boundary } = await encode(form);
  const text = new TextDecoder().decode(bytes);
  const enc = (s: string) => new TextEncoder().encode(s);
  const cases: Record<string, Uint8Array> = {
    "truncated": bytes.slice(0, bytes.length - 20),
    "wrong boundary": enc(text.replaceAll(boundary, boundary + "x")),
    "no parts": enc(`--${boundary}--\r\n`),
    "no disposition": enc(`--${boundary}\r\nContent-Type: text/plain\r\n\r\nhi\r\n--${boundary}--\r\n`),
    "no name": enc(`--${boundary}\r\nContent-Disposition: form-data\r\n\r\nhi\r\n--${boundary}--\r\n`),
    "huge headers": enc(`--${boundary}\r\nX-Pad: ${"p".repeat(10_000)}\r\n\r\nhi\r\n--${boundary}--\r\n`),
    "too many parts": enc(
      Array.from(
        { length: 40 },
        (_, i) => `--${boundary}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nx\r\n`,
      )
        .join("") + `--${boundary}--\r\n`,
    ),
  };
  for (const [name, body] of Object.entries(cases)) {
    await t.step(name, async () => {
      await assert.rejects(readAll(streamOf(body, 100), boundary), MultipartError);
    });
  }
});

const MiB = 1024 * 1024;
const BOUNDARY = "----kosmos-order-test";

/**
 * A multipart body, generated as it is read: `before` fields, a file part of
 * `fileBytes` (one random MiB repeated, never held whole), `after` fields.
 * `onMiB` runs after each MiB of the file is handed out.
 */
function generatedBody(options: {
  before: [string, string][];
  fileBytes: number;
  after: [string, string][];
  onMiB?: () => void;
}): { body: ReadableStream<Uint8Array>; pattern: Uint8Array } {
  const enc = new TextEncoder();
  const field = ([name, value]: [string, string]) =>
    enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  const pattern = randomBytes(MiB);
  const pieces = function* () {
    for (const f of options.before) yield field(f);
    yield enc.encode(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n` +
        `Content-Type: text/csv\r\n\r\n`,
    );
    for (let sent = 0; sent < options.fileBytes; sent += MiB) {
      yield pattern.subarray(0, Math.min(MiB, options.fileBytes - sent));
      options.onMiB?.();
    }
    yield enc.encode("\r\n");
    for (const f of options.after) yield field(f);
    yield enc.encode(`--${BOUNDARY}--\r\n`);
  };
  return { body: ReadableStream.from(pieces()), pattern };
}

/** Reads the fields and spools the file of a body, in whatever order they come. */
async function readUpload(body: ReadableStream<Uint8Array>, dir: string, maxBytes = 4096 * MiB) {
  const fields: Record<string, string> = {};
  const order: string[] = [];
  let file: SpooledUpload | undefined;
  for await (const part of readMultipart(body, BOUNDARY)) {
    order.push(part.name);
    if (part.filename === undefined) fields[part.name] = await readPartText(part, { maxBytes: 1024 });
    else file = await spoolUpload(part.body, { dir, maxBytes, tooLarge: () => new RangeError("too large") });
  }
  assert.ok(file, "the body has a file part");
  return { fields, order, file };
}

Deno.test("readMultipart() with spoolUpload() reads the fields before or after the file alike", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-spool-" });
  try {
    const fields: [string, string][] = [["title", "Trips ✓"], ["price", "2.5"]];
    for (
      const [before, after, order] of [
        [fields, [], ["title", "price", "file"]],
        [[], fields, ["file", "title", "price"]],
        [[fields[0]], [fields[1]], ["title", "file", "price"]],
      ] as const
    ) {
      const { body, pattern } = generatedBody({
        before: [...before],
        fileBytes: 3 * MiB + 17,
        after: [...after],
      });
      const upload = await readUpload(body, dir);
      assert.deepEqual(upload.order, order);
      assert.deepEqual(upload.fields, { title: "Trips ✓", price: "2.5" });
      assert.equal(upload.file.size, 3 * MiB + 17);
      const copy = new Uint8Array(await new Response(await upload.file.readable()).arrayBuffer());
      assert.deepEqual(copy.subarray(0, MiB), pattern);
      assert.deepEqual(copy.subarray(3 * MiB), pattern.subarray(0, 17));
      assert.equal((await Deno.stat(upload.file.path)).mode! & 0o777, 0o600);
      await upload.file[Symbol.asyncDispose]();
      await assert.rejects(Deno.stat(upload.file.path), Deno.errors.NotFound);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spoolUpload() parks a 512 MiB file sent before its fields with memory far below the file's size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-spool-" });
  try {
    const size = 512 * MiB;
    const start = Deno.memoryUsage().rss;
    let peak = start;
    const { body } = generatedBody({
      before: [],
      fileBytes: size,
      after: [["title", "Late title"], ["category", "mobility"]],
      onMiB: () => peak = Math.max(peak, Deno.memoryUsage().rss),
    });
    const upload = await readUpload(body, dir);
    assert.deepEqual(upload.fields, { title: "Late title", category: "mobility" });
    assert.equal(upload.file.size, size);
    assert.equal((await Deno.stat(upload.file.path)).size, size);
    // Holding the file would take 512 MiB; the spool keeps a few MiB in flight. RSS also counts
    // chunks already written but not yet collected: V8 collects external buffers only after about
    // 64 MiB of them, so growth of up to ~100 MiB is garbage, not buffering.
    assert.ok(peak - start < size / 4, `memory grew by ${((peak - start) / MiB).toFixed(1)} MiB`);
    await upload.file[Symbol.asyncDispose]();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spoolUpload() removes its file when the part is larger than allowed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-spool-" });
  try {
    const { body } = generatedBody({ before: [], fileBytes: 5 * MiB, after: [["title", "x"]] });
    await assert.rejects(readUpload(body, dir, 2 * MiB), RangeError);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The streaming multipart reader against bodies encoded by the platform's
 * own `FormData` serializer, cut into chunks at every awkward place
 * (including inside a boundary), and against malformed bodies.
 */
import assert from "node:assert/strict";
import { getBoundary, MultipartError, type MultipartPart, readMultipart, readPartText } from "./multipart.ts";

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

import assert from "node:assert/strict";
import { HttpError } from "./http_error.ts";
import { readJson } from "./read_json.ts";

function post(
  body: BodyInit | null,
  headers: Record<string, string> = { "content-type": "application/json" },
) {
  return new Request("http://127.0.0.1/api/v1/x", { method: "POST", body, headers });
}

async function assertHttpError(promise: Promise<unknown>, status: number, code: string) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, status);
    assert.equal(err.code, code);
    return true;
  });
}

Deno.test("readJson() parses a JSON body", async () => {
  assert.deepEqual(await readJson(post('{"a":[1,2]}')), { a: [1, 2] });
  assert.deepEqual(await readJson(post("[]", { "content-type": "application/ld+json; charset=utf-8" })), []);
});

Deno.test("readJson() answers 415 when the body is not declared as JSON", async () => {
  await assertHttpError(
    readJson(post("{}", { "content-type": "text/plain" })),
    415,
    "unsupported_media_type",
  );
  await assertHttpError(readJson(post("{}", {})), 415, "unsupported_media_type");
});

Deno.test("readJson() answers 413 for bodies over the limit, declared or streamed", async () => {
  await assertHttpError(readJson(post("x".repeat(65)), { maxBytes: 64 }), 413, "payload_too_large");
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 10; i++) controller.enqueue(new Uint8Array(16).fill(0x20));
      controller.close();
    },
  });
  await assertHttpError(readJson(post(stream), { maxBytes: 64 }), 413, "payload_too_large");
});

Deno.test("readJson() answers 400 for empty, malformed or non-UTF-8 bodies", async () => {
  await assertHttpError(readJson(post(null)), 400, "bad_request");
  await assertHttpError(readJson(post("  ")), 400, "bad_request");
  await assertHttpError(readJson(post("{nope")), 400, "bad_request");
  await assertHttpError(readJson(post(new Uint8Array([0x22, 0xff, 0x22]))), 400, "bad_request");
});

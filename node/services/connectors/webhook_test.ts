import assert from "node:assert/strict";
import type { DeliveryAttempt } from "./connector.ts";
import { redactUrl, webhookConnector } from "./webhook.ts";

/** A webhook on 127.0.0.1 answering each request with the next status of `statuses` (the last one repeats). */
function serveHook(statuses: number[]) {
  const bodies: unknown[] = [];
  let calls = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    bodies.push(await req.json());
    const status = statuses[Math.min(calls++, statuses.length - 1)];
    return new Response(null, { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook?token=secret`,
    bodies,
    get calls() {
      return calls;
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("webhookConnector() retries 503 with backoff, then delivers the batch as JSON", async () => {
  await using hook = serveHook([503, 503, 200]);
  const attempts: DeliveryAttempt[] = [];
  const connector = webhookConnector({ url: hook.url, retries: 3, backoff: 10 });
  await connector.deliver(
    { rows: [{ a: 1 }, { a: "x,y" }], format: "ndjson", seq: 7 },
    { onAttempt: (a) => attempts.push(a) },
  );
  assert.equal(hook.calls, 3);
  assert.deepEqual(hook.bodies[2], { seq: 7, format: "ndjson", rows: [{ a: 1 }, { a: "x,y" }] });
  assert.deepEqual(attempts.map((a) => [a.attempt, a.status]), [[1, 503], [2, 503], [3, 200]]);
  assert.equal(attempts[2].error, undefined);
});

Deno.test("webhookConnector() gives up after its retries with an error naming the URL and last status", async () => {
  await using hook = serveHook([500, 429]);
  const connector = webhookConnector({ url: hook.url, retries: 2, backoff: 5 });
  await assert.rejects(
    connector.deliver({ rows: [{ a: 1 }], format: "csv", seq: 1 }, {}),
    (err: Error & { status?: number }) => {
      assert.equal(err.name, "DeliveryError");
      assert.match(err.message, /http:\/\/127\.0\.0\.1:\d+\/hook/);
      assert.match(err.message, /3 tries \(last status 429\)/);
      assert.doesNotMatch(err.message, /secret/);
      assert.equal(err.status, 429);
      return true;
    },
  );
  assert.equal(hook.calls, 3);
});

Deno.test("webhookConnector() does not retry a 4xx other than 429", async () => {
  await using hook = serveHook([400]);
  const connector = webhookConnector({ url: hook.url, retries: 5, backoff: 5 });
  await assert.rejects(connector.deliver({ rows: [], format: "csv", seq: 1 }, {}), /answered 400/);
  assert.equal(hook.calls, 1);
});

Deno.test("webhookConnector() retries network errors and reports them", async () => {
  // A port that was just free: nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const attempts: DeliveryAttempt[] = [];
  const connector = webhookConnector({ url: `http://127.0.0.1:${port}/`, retries: 1, backoff: 5 });
  await assert.rejects(
    connector.deliver({ rows: [], format: "csv", seq: 1 }, { onAttempt: (a) => attempts.push(a) }),
    /gave up after 2 tries \(last error: Cannot reach/,
  );
  assert.equal(attempts.length, 2);
});

Deno.test("webhookConnector() refuses URLs that are not http(s)", () => {
  assert.throws(() => webhookConnector({ url: "file:///etc/passwd" }), TypeError);
  assert.throws(() => webhookConnector({ url: "not a url" }), TypeError);
  assert.equal(redactUrl("https://u:p@example.com/a?b=c#d"), "https://example.com/a");
});

import assert from "node:assert/strict";
import type { DeliveryAttempt } from "./connector.ts";
import { redactUrl, webhookConnector } from "./webhook.ts";

/** The test webhooks listen on loopback, which deliveries only reach when allowed. */
const LOOPBACK = { webhookAllow: ["127.0.0.1"] };

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
  const connector = webhookConnector({ url: hook.url, policy: LOOPBACK, retries: 3, backoff: 10 });
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
  const connector = webhookConnector({ url: hook.url, policy: LOOPBACK, retries: 2, backoff: 5 });
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
  const connector = webhookConnector({ url: hook.url, policy: LOOPBACK, retries: 5, backoff: 5 });
  await assert.rejects(connector.deliver({ rows: [], format: "csv", seq: 1 }, {}), /answered 400/);
  assert.equal(hook.calls, 1);
});

Deno.test("webhookConnector() retries network errors and reports them", async () => {
  // A port that was just free: nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const attempts: DeliveryAttempt[] = [];
  const connector = webhookConnector({
    url: `http://127.0.0.1:${port}/`,
    policy: LOOPBACK,
    retries: 1,
    backoff: 5,
  });
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

Deno.test("webhookConnector() connects to the address it checked, sending the URL's host name", async () => {
  const hosts: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    hosts.push(req.headers.get("host"));
    return new Response(null, { status: 204 });
  });
  try {
    const resolved: string[] = [];
    const connector = webhookConnector({
      url: `http://hooks.internal.test:${server.addr.port}/in`,
      retries: 0,
      policy: {
        webhookAllow: ["127.0.0.0/8"],
        // deno-lint-ignore require-await
        lookup: async (host) => (resolved.push(host), ["127.0.0.1"]),
      },
    });
    await connector.deliver({ rows: [{ a: 1 }], format: "ndjson", seq: 1 }, {});
    assert.deepEqual(resolved, ["hooks.internal.test"]);
    assert.deepEqual(hosts, [`hooks.internal.test:${server.addr.port}`]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("webhookConnector() does not follow redirects", async () => {
  await using hook = serveHook([302]);
  const connector = webhookConnector({ url: hook.url, policy: LOOPBACK, retries: 3, backoff: 5 });
  await assert.rejects(connector.deliver({ rows: [], format: "csv", seq: 1 }, {}), /answered 302/);
  assert.equal(hook.calls, 1);
});

Deno.test("webhookConnector() speaks TLS to the checked address and verifies the URL's host name", async () => {
  const tls = await makeCertificate("hook.test");
  if (tls === undefined) throw new Error("openssl is needed to make the test certificate");
  let calls = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key, onListen: () => {} },
    () => (calls++, new Response(null, { status: 200 })),
  );
  try {
    // deno-lint-ignore require-await
    const policy = { webhookAllow: ["127.0.0.1"], lookup: async () => ["127.0.0.1"] };
    const ok = webhookConnector({
      url: `https://hook.test:${server.addr.port}/`,
      retries: 0,
      policy,
      caCerts: [tls.cert],
    });
    await ok.deliver({ rows: [{ a: 1 }], format: "csv", seq: 1 }, {});
    assert.equal(calls, 1);
    // The same address under a name the certificate does not cover fails the handshake.
    const wrongName = webhookConnector({
      url: `https://other.test:${server.addr.port}/`,
      retries: 0,
      policy,
      caCerts: [tls.cert],
    });
    await assert.rejects(wrongName.deliver({ rows: [], format: "csv", seq: 1 }, {}), /Cannot reach/);
    assert.equal(calls, 1);
  } finally {
    await server.shutdown();
  }
});

/** A self-signed certificate for `name`, made with openssl. */
async function makeCertificate(name: string): Promise<{ cert: string; key: string } | undefined> {
  const dir = await Deno.makeTempDir();
  try {
    const { success } = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
        "-days",
        "1",
        "-subj",
        `/CN=${name}`,
        "-addext",
        `subjectAltName=DNS:${name}`,
        "-addext",
        "basicConstraints=critical,CA:FALSE",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!success) return undefined;
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

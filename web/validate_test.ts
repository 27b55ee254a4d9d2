import assert from "node:assert/strict";
import { Hono } from "hono";
import * as v from "valibot";
import { PublishFields } from "../protocol/api/datasets.ts";
import { BuyBody, DeliveryBody, PurchaseId } from "../protocol/api/market.ts";
import { ChallengeBody, StakeBody } from "../protocol/api/chain.ts";
import { searchParams, strictBody } from "../protocol/api/schema.ts";
import { HttpError, toHttpError } from "./http_error.ts";
import { readBody, validate } from "./validate.ts";

const CID = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

function failure(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HttpError, `expected an HttpError, got ${err}`);
    return err;
  }
  assert.fail("expected a failure");
}

Deno.test("validate: a strict body says what it expects, then names an unknown field", () => {
  const Body = strictBody({ domain: v.string('Field "domain" must be a string') }, { example: "{}" });
  assert.deepEqual(validate(Body, { domain: "example.com" }), { domain: "example.com" });
  const notObject = failure(() => validate(Body, [1]));
  assert.equal(notObject.status, 422);
  assert.equal(notObject.code, "unprocessable");
  assert.equal(notObject.message, "Expected a JSON object like {}");
  assert.equal(
    failure(() => validate(Body, { domain: "a", x: 1 })).message,
    'Unknown field "x"; send only domain',
  );
  // A missing field gets its own schema's message, not the library's.
  assert.equal(failure(() => validate(Body, {})).message, 'Field "domain" must be a string');
});

Deno.test("validate: the status follows the options; ids in paths are 404s", () => {
  const error = failure(() => validate(PurchaseId, "nope", { status: 404 }));
  assert.equal(error.status, 404);
  assert.equal(error.code, "not_found");
  assert.equal(error.message, 'No purchase "nope" on this node');
  const headers = { "X-Test": "1" };
  assert.equal(failure(() => validate(BuyBody, null, { status: 400, headers })).headers["X-Test"], "1");
});

Deno.test("validate: the buy body takes a manifest CID under its v1 name listingId", () => {
  assert.deepEqual(validate(BuyBody, { listingId: CID }), { listingId: CID });
  assert.match(failure(() => validate(BuyBody, { listingId: "bafy" })).message, /manifest CID/);
});

Deno.test("validate: amounts and registry ids become bigints, with today's messages", () => {
  assert.deepEqual(validate(StakeBody, { manifestCid: CID, amount: "2.5" }), {
    manifestCid: CID,
    amount: 2_500_000_000_000_000_000n,
  });
  assert.equal(
    failure(() => validate(StakeBody, { manifestCid: CID, amount: "0" })).message,
    '"amount" must be more than 0',
  );
  assert.deepEqual(validate(ChallengeBody, { listingId: 3, amount: "1" }), {
    listingId: 3n,
    amount: 10n ** 18n,
  });
  assert.match(
    failure(() => validate(ChallengeBody, { listingId: "0", amount: "1" })).message,
    /listing number/,
  );
});

Deno.test("validate: a delivery body is checked in order, absent format stays absent", () => {
  assert.deepEqual(validate(DeliveryBody, { connector: "directory", dir: "/tmp/x" }), {
    connector: "directory",
    dir: "/tmp/x",
  });
  assert.equal(
    failure(() => validate(DeliveryBody, { connector: "webhook", dir: "/x" })).message,
    'Unknown field "dir" for the webhook connector',
  );
});

Deno.test("validate: the upload's fields name every problem, and the hint only when one is missing", () => {
  const options = { all: true, prefix: "Invalid upload: ", suffix: " (send them first)" };
  const missing = failure(() => validate(PublishFields, { category: "nope", price: "x" }, options));
  assert.equal(
    missing.message,
    "Invalid upload: title is required; category must be one of " +
      missing.message.split("category must be one of ")[1].split(";")[0] +
      "; license is required; price must be a token amount such as 2.5, with at most 18 decimals (send them first)",
  );
  const bad = failure(() =>
    validate(PublishFields, { title: "t", category: "mobility", license: "a b", price: "1" }, options)
  );
  assert.equal(bad.message, "Invalid upload: license must be a licence id without spaces, e.g. CC-BY-4.0");
});

Deno.test("validate: query parameters are checked in URL order", () => {
  const Params = searchParams({ a: v.optional(v.string()) }, { unknown: (key) => `bad ${key}`, once: true });
  assert.deepEqual(validate(Params, new URLSearchParams("a=1")), { a: "1" });
  assert.deepEqual(validate(Params, new URLSearchParams("")), {});
  assert.equal(
    failure(() => validate(Params, new URLSearchParams("a=1&a=2&b=1"))).message,
    'Query parameter "a" is given more than once',
  );
  assert.equal(failure(() => validate(Params, new URLSearchParams("b=1&a=1&a=2"))).message, "bad b");
});

Deno.test("readBody: reads JSON as readJson does, then validates", async () => {
  const app = new Hono();
  app.post("/", async (c) => c.json(await readBody(c, BuyBody, { maxBytes: 100 })));
  app.onError((err, c) => c.json({ status: (err as HttpError).status }));
  const post = async (body: string, type = "application/json") =>
    await (await app.request("/", { method: "POST", body, headers: { "Content-Type": type } })).json();
  assert.deepEqual(await post(JSON.stringify({ listingId: CID })), { listingId: CID });
  assert.deepEqual(await post("{}", "text/plain"), { status: 415 });
  assert.deepEqual(await post("x".repeat(101)), { status: 413 });
  assert.deepEqual(await post("{"), { status: 400 });
  assert.deepEqual(await post("{}"), { status: 422 });
});

Deno.test("the error table: by name under the route's policy, and nothing without one", () => {
  const named = (name: string, message = "m", extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(message), { name }, extra);
  assert.equal(toHttpError(named("NotFoundError"), undefined), undefined);
  assert.equal(toHttpError(named("TypeError"), { badInput: 400 })?.status, 400);
  assert.equal(toHttpError(named("RangeError"), { badInput: 422 })?.code, "unprocessable");
  assert.equal(
    toHttpError(named("MultipartError", "bad"), { badInput: 422 })?.message,
    "Malformed upload: bad",
  );
  assert.equal(toHttpError(named("Error"), { badInput: 422 }), undefined);
  const revert = (name: string) => named("ContractRevertError", name, { revert: name });
  assert.equal(toHttpError(revert("NotListingOwner"), { badInput: 422, reverts: "registry" })?.status, 403);
  assert.equal(
    toHttpError(revert("ERC721NonexistentToken"), { badInput: 422, reverts: "registry" })?.status,
    404,
  );
  assert.equal(toHttpError(revert("StakeTooLow"), { badInput: 422, reverts: "registry" })?.status, 422);
  assert.equal(toHttpError(revert("NothingToWithdraw"), { badInput: 422, reverts: "registry" })?.status, 409);
  assert.equal(toHttpError(revert("StakeTooLow"), { badInput: 400, reverts: "conflict" })?.status, 409);
  assert.equal(toHttpError(revert("StakeTooLow"), { badInput: 400 }), undefined);
  const rewritten = toHttpError(named("DatasetFormatError", "Cannot prepare dataset: x"), {
    badInput: 422,
    rewrite: [/^Cannot prepare dataset: /, "The file cannot be published: "],
  });
  assert.equal(rewritten?.message, "The file cannot be published: x");
});

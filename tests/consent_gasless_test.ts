/**
 * Gasless consent: a person whose wallet holds no ether asks the node for the grant message, signs
 * it with their own key (not the node's), and the node relays it and pays; the record is the
 * person's on chain. A signature by another key, a deadline that has passed and a signature used
 * once already are refused before any transaction: the node's nonce and balance do not move.
 */
import assert from "node:assert/strict";
import { getAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { ConsentView, GrantMessageView } from "../protocol/api/mod.ts";
import { getConsent, getConsentNonce, isConsentValid } from "../node/services/chain/mod.ts";
import { kosmosConsentAbi } from "../protocol/contracts_generated.ts";
import { startAppNode } from "./node_app.ts";

const day = 86_400_000;

Deno.test("a grant signed by the person's own wallet is relayed by the node; forged, late and replayed ones are refused without a transaction", async () => {
  await using started = await startAppNode("kosmos-consent-gasless-");
  const { node, app } = started;
  const chain = node.components.chain;
  const person = privateKeyToAccount(generatePrivateKey());
  const forger = privateKeyToAccount(generatePrivateKey());
  assert.notEqual(person.address, node.address);
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await app.request(path, {
      method,
      headers: {
        accept: "application/json",
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const chainNow = async () => Number((await chain.publicClient.getBlock({ blockTag: "latest" })).timestamp);
  const fields = { kind: "chrome", purpose: "browsing habits study", expiresAt: Date.now() + 90 * day };
  /** Asks the node for the grant message and has `signer` sign it. */
  const sign = async (signer: typeof person, deadline: number) => {
    const query = new URLSearchParams({
      kind: fields.kind,
      purpose: fields.purpose,
      expiresAt: String(fields.expiresAt),
      contributor: person.address,
      deadline: String(deadline),
    });
    const { status, body } = await call("GET", `/api/v1/consents/grant-message?${query}`);
    assert.equal(status, 200, JSON.stringify(body));
    const typed = body as GrantMessageView;
    const signature = await signer.signTypedData({
      domain: typed.domain,
      types: typed.types,
      primaryType: "Grant",
      message: {
        contributor: typed.message.contributor,
        source: typed.message.source,
        purpose: typed.message.purpose,
        expiry: BigInt(typed.message.expiry),
        nonce: BigInt(typed.message.nonce),
        deadline: BigInt(typed.message.deadline),
      },
    });
    return { ...fields, signed: { contributor: person.address, deadline, signature } };
  };
  const nodeState = async () => ({
    nonce: await chain.publicClient.getTransactionCount({ address: node.address, blockTag: "pending" }),
    balance: await chain.publicClient.getBalance({ address: node.address }),
    block: await chain.publicClient.getBlockNumber({ cacheTime: 0 }),
  });
  const consentCount = () =>
    chain.publicClient.readContract({
      address: chain.contracts!.consent,
      abi: kosmosConsentAbi,
      functionName: "consentCount",
    });

  // Forged: the message is the person's, the signature another key's.
  const untouched = await nodeState();
  const forged = await sign(forger, (await chainNow()) + 600);
  for (const path of ["/api/v1/consents?preview=1", "/api/v1/consents"]) {
    const answer = await call("POST", path, forged);
    assert.equal(answer.status, 422, JSON.stringify(answer.body));
    assert.match(answer.body.error.message, /not 0x[0-9a-fA-F]{40}'s grant of these values/);
  }
  // Altered: the person's signature over other values (a longer consent than they signed).
  const honest = await sign(person, (await chainNow()) + 600);
  const altered = await call("POST", "/api/v1/consents", { ...honest, expiresAt: fields.expiresAt + day });
  assert.equal(altered.status, 422);
  // Late: a deadline that passes before the node relays it.
  const late = await sign(person, (await chainNow()) + 5);
  await chain.publicClient.request({ method: "evm_increaseTime" as never, params: [30] as never });
  await chain.publicClient.request({ method: "evm_mine" as never, params: [] as never });
  const lateAnswer = await call("POST", "/api/v1/consents", late);
  assert.equal(lateAnswer.status, 422, JSON.stringify(lateAnswer.body));
  assert.match(lateAnswer.body.error.message, /deadline .* has passed/);
  const afterRefusals = await nodeState();
  assert.deepEqual(
    [afterRefusals.nonce, afterRefusals.balance],
    [untouched.nonce, untouched.balance],
    "refused grants cost the node nothing",
  );
  assert.equal(await consentCount(), 0n);

  // The honest grant (its deadline still ahead): previewed, then relayed.
  const signed = await sign(person, (await chainNow()) + 600);
  const preview = await call("POST", "/api/v1/consents?preview=1", signed);
  assert.equal(preview.status, 200, JSON.stringify(preview.body));
  assert.ok(BigInt(preview.body.fee.gas) > 0n);
  const granted = await call("POST", "/api/v1/consents", signed);
  assert.equal(granted.status, 201, JSON.stringify(granted.body));
  const view = granted.body as ConsentView;
  assert.deepEqual([view.contributor, view.gasless, view.state, view.kind], [
    person.address,
    true,
    "valid",
    "chrome",
  ]);
  const tokenId = BigInt(view.tokenId);
  assert.equal((await getConsent(chain.client, { consentId: tokenId }))?.contributor, person.address);
  assert.equal(
    await chain.publicClient.readContract({
      address: chain.contracts!.consent,
      abi: kosmosConsentAbi,
      functionName: "ownerOf",
      args: [tokenId],
    }),
    person.address,
  );
  assert.equal(await isConsentValid(chain.client, { consentId: tokenId }), true);
  assert.equal(
    await chain.publicClient.getBalance({ address: person.address }),
    0n,
    "the person paid nothing",
  );
  const tx = await chain.publicClient.getTransaction({ hash: view.txHash });
  assert.equal(getAddress(tx.from), node.address, "the node relayed it");
  const receipt = await chain.publicClient.getTransactionReceipt({ hash: view.txHash });
  console.log(`grantBySig (relayed): ${receipt.gasUsed} gas`);
  assert.equal(await getConsentNonce(chain.client, { contributor: person.address }), 1n);

  // Replayed: the same signature again.
  const beforeReplay = await nodeState();
  const replay = await call("POST", "/api/v1/consents", signed);
  assert.equal(replay.status, 422, JSON.stringify(replay.body));
  assert.match(replay.body.error.message, /already used/);
  const afterReplay = await nodeState();
  assert.deepEqual([afterReplay.nonce, afterReplay.balance], [beforeReplay.nonce, beforeReplay.balance]);
  assert.equal(await consentCount(), 1n);

  // Listed with the person as its holder; only the person's wallet can revoke it.
  const { body } = await call("GET", "/api/v1/consents");
  assert.deepEqual(
    (body.consents as ConsentView[]).map((c) => [c.id, c.contributor, c.gasless, c.state]),
    [[view.id, person.address, true, "valid"]],
  );
  const revoke = await call("DELETE", `/api/v1/consents/${view.id}`);
  assert.equal(revoke.status, 403);
  assert.equal(await isConsentValid(chain.client, { consentId: tokenId }), true);
  assert.deepEqual(
    await node.components.consent.validFor("chrome", fields.purpose),
    [],
    "not the node's own",
  );
});

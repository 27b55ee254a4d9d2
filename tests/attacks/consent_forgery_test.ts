/**
 * Attacks on consent records, from the attacker's side, with a real node on its embedded anvil.
 * The attacker runs that node (they hold its owner's token and its wallet) and has a second wallet
 * of their own; the victim is a person with a wallet of their own who never signed anything for
 * the attacker.
 *
 * 1. Forged relay. The attacker asks their node to relay a grant "signed" by the victim: signed by
 *    the attacker's key, or the victim's genuine signature of another grant re-targeted to a
 *    purpose or expiry the victim never agreed to, or a malformed signature. Directly on chain the
 *    attacker calls `grantBySig` with their own signature for the victim. What they must not obtain:
 *    any consent record held by the victim, a used nonce of the victim, or a transaction paid by the
 *    node for it.
 * 2. Revoking another's consent. The victim holds a consent (granted directly, and one relayed by
 *    the attacker's own node). The attacker asks their node to revoke them (`DELETE
 *    /api/v1/consents/:id`) and calls `revoke` on chain from the node's wallet. What they must not
 *    obtain: a revoked consent of the victim.
 * 3. Ownership without consent. The attacker records a publication's ownership on `KosmosOwnership`
 *    from their own wallet naming the victim's consent, and naming a consent of their own that they
 *    revoked; and asks their node to record with the victim's consent. What they must not obtain: an
 *    ownership record.
 */
import assert from "node:assert/strict";
import { parseEventLogs } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type ContractRevertError,
  DEV_ACCOUNT_KEYS,
  getConsentNonce,
  grantConsent,
  isConsentValid,
  type KosmosClient,
  revokeConsent,
  sendContractCall,
  toPurposeId,
  toSourceId,
} from "../../node/services/chain/mod.ts";
import { createDevClient, makeManifestCid } from "../../node/services/chain/testing.ts";
import { toManifestDigest } from "../../node/services/consent/mod.ts";
import type { GrantMessageView } from "../../protocol/api/mod.ts";
import { kosmosConsentAbi, kosmosOwnershipAbi } from "../../protocol/contracts_generated.ts";
import { startAppNode } from "../node_app.ts";

const day = 86_400_000;

Deno.test("attack: forged relays, revoking another's consent and ownership without consent are all refused", async (t) => {
  await using started = await startAppNode("kosmos-attack-consent-");
  const { node, app } = started;
  const chain = node.components.chain;
  const contracts = chain.contracts!;
  const victim = createDevClient(chain.rpcUrl, contracts, 2);
  const victimKey = privateKeyToAccount(DEV_ACCOUNT_KEYS[2]);
  const victimAddress = victim.walletClient.account.address;
  const attackerWallet = createDevClient(chain.rpcUrl, contracts, 3);
  const attackerKey = privateKeyToAccount(generatePrivateKey());
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await app.request(path, {
      method,
      headers: { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const read = <T>(
    address: `0x${string}`,
    abi: typeof kosmosConsentAbi | typeof kosmosOwnershipAbi,
    fn: string,
    args: unknown[] = [],
  ) => chain.publicClient.readContract({ address, abi, functionName: fn, args } as never) as Promise<T>;
  const chainNow = async () => Number((await chain.publicClient.getBlock({ blockTag: "latest" })).timestamp);
  const nodeNonce = () =>
    chain.publicClient.getTransactionCount({ address: node.address, blockTag: "pending" });
  const reverts = async (promise: Promise<unknown>, name: string) => {
    await assert.rejects(
      promise,
      (err: ContractRevertError) => err.name === "ContractRevertError" && err.revert === name,
    );
  };
  const purpose = "health research";
  const expiresAt = Date.now() + 30 * day;
  /** The grant message for the victim, signed by `signer` (the victim's real key, or another). */
  const signFor = async (
    signer: { signTypedData: typeof attackerKey.signTypedData },
    grant: { purpose: string; expiresAt: number },
  ) => {
    const deadline = (await chainNow()) + 600;
    const query = new URLSearchParams({
      kind: "apple-health",
      purpose: grant.purpose,
      expiresAt: String(grant.expiresAt),
      contributor: victimAddress,
      deadline: String(deadline),
    });
    const typed = (await call("GET", `/api/v1/consents/grant-message?${query}`)).body as GrantMessageView;
    const signature = await signer.signTypedData({
      domain: typed.domain,
      types: typed.types,
      primaryType: "Grant",
      message: {
        ...typed.message,
        expiry: BigInt(typed.message.expiry),
        nonce: BigInt(typed.message.nonce),
        deadline: BigInt(typed.message.deadline),
      },
    });
    return { deadline, signature };
  };

  await t.step(
    "a relayed grant for the victim without the victim's signature is refused; nothing is sent",
    async () => {
      const before = {
        nonce: await nodeNonce(),
        count: await read<bigint>(contracts.consent, kosmosConsentAbi, "consentCount"),
      };
      const byAttacker = await signFor(attackerKey, { purpose, expiresAt });
      // The victim's genuine signature of a one-day consent for another purpose, re-targeted.
      const genuine = await signFor(victimKey, {
        purpose: "step counting",
        expiresAt: Date.now() + day,
      });
      const attempts = [
        { kind: "apple-health", purpose, expiresAt, signed: { contributor: victimAddress, ...byAttacker } },
        {
          kind: "apple-health",
          purpose,
          expiresAt: Date.now() + day,
          signed: { contributor: victimAddress, ...genuine },
        },
        {
          kind: "apple-health",
          purpose: "step counting",
          expiresAt,
          signed: { contributor: victimAddress, ...genuine },
        },
        {
          kind: "bank",
          purpose: "step counting",
          expiresAt: Date.now() + day,
          signed: { contributor: victimAddress, ...genuine },
        },
        {
          kind: "apple-health",
          purpose,
          expiresAt,
          signed: {
            contributor: victimAddress,
            deadline: byAttacker.deadline,
            signature: `0x${"00".repeat(65)}`,
          },
        },
      ];
      for (const body of attempts) {
        for (const path of ["/api/v1/consents?preview=1", "/api/v1/consents"]) {
          const answer = await call("POST", path, body);
          assert.equal(answer.status, 422, `${path} ${JSON.stringify(answer.body)}`);
          assert.equal(answer.body.error.code, "unprocessable");
        }
      }
      // Straight to the contract from the attacker's own wallet: the contract refuses too.
      await reverts(
        sendContractCall(attackerWallet, {
          address: contracts.consent,
          abi: kosmosConsentAbi,
          functionName: "grantBySig",
          args: [
            victimAddress,
            toSourceId("apple-health"),
            toPurposeId(purpose),
            BigInt(Math.floor(expiresAt / 1000)),
            BigInt(byAttacker.deadline),
            byAttacker.signature,
          ],
        }, { action: "forge a grant" }),
        "InvalidSigner",
      );
      assert.equal(await nodeNonce(), before.nonce, "the node sent no transaction");
      assert.equal(await read<bigint>(contracts.consent, kosmosConsentAbi, "consentCount"), before.count);
      assert.equal(await read<bigint>(contracts.consent, kosmosConsentAbi, "balanceOf", [victimAddress]), 0n);
      assert.equal(
        await getConsentNonce(chain.client, { contributor: victimAddress }),
        0n,
        "no nonce of the victim used",
      );
    },
  );

  let direct = 0n;
  let relayed = 0n;
  await t.step(
    "the victim's consents cannot be revoked through the attacker's node or its wallet",
    async () => {
      direct = (await grantConsent(victim, {
        source: toSourceId("bank"),
        purpose: toPurposeId("budget research"),
        expiry: BigInt(Math.floor((Date.now() + day) / 1000)),
      })).consentId;
      const signed = await signFor(victimKey, { purpose, expiresAt });
      const granted = await call("POST", "/api/v1/consents", {
        kind: "apple-health",
        purpose,
        expiresAt,
        signed: { contributor: victimAddress, ...signed },
      });
      assert.equal(granted.status, 201, JSON.stringify(granted.body));
      relayed = BigInt(granted.body.tokenId);
      const nonce = await nodeNonce();
      for (const id of [direct, relayed]) {
        for (const path of [`/api/v1/consents/${id}?preview=1`, `/api/v1/consents/${id}`]) {
          const answer = await call("DELETE", path);
          assert.equal(answer.status, 403, JSON.stringify(answer.body));
          assert.equal(answer.body.error.code, "forbidden");
        }
      }
      assert.equal(await nodeNonce(), nonce, "the refusals sent nothing");
      await reverts(revokeConsent(chain.client, { consentId: direct }), "NotContributor");
      await reverts(revokeConsent(attackerWallet, { consentId: relayed }), "NotContributor");
      assert.equal(await isConsentValid(chain.client, { consentId: direct }), true);
      assert.equal(await isConsentValid(chain.client, { consentId: relayed }), true);
    },
  );

  await t.step("ownership cannot be recorded with another's consent or a revoked one", async () => {
    const digest = toManifestDigest(await makeManifestCid("the victim's data, republished"));
    const record = (client: KosmosClient, consentIds: bigint[]) =>
      sendContractCall(client, {
        address: contracts.ownership,
        abi: kosmosOwnershipAbi,
        functionName: "record",
        args: [digest, consentIds],
      }, { action: "record ownership" });
    await reverts(record(attackerWallet, [direct]), "ConsentNotHeld");
    await reverts(record(attackerWallet, [relayed]), "ConsentNotHeld");
    const own = await grantConsent(attackerWallet, {
      source: toSourceId("apple-health"),
      purpose: toPurposeId(purpose),
      expiry: BigInt(Math.floor((Date.now() + day) / 1000)),
    });
    await revokeConsent(attackerWallet, { consentId: own.consentId });
    await reverts(record(attackerWallet, [own.consentId]), "ConsentNotValid");
    // Mixing a valid consent of their own with the victim's does not pass either.
    const valid = await grantConsent(attackerWallet, {
      source: toSourceId("apple-health"),
      purpose: toPurposeId(purpose),
      expiry: BigInt(Math.floor((Date.now() + day) / 1000)),
    });
    await reverts(record(attackerWallet, [valid.consentId, direct]), "ConsentNotHeld");
    // Through the attacker's node: refused before any transaction.
    const nonce = await nodeNonce();
    await assert.rejects(
      node.components.consent.recordOwnership(await makeManifestCid("republished"), [relayed]),
      (err: Error) => err.name === "ConsentNotHeldError",
    );
    assert.equal(await nodeNonce(), nonce);
    assert.equal(await read<bigint>(contracts.ownership, kosmosOwnershipAbi, "recordCount"), 0n);
    // The one honest path still works: the attacker's own valid consent alone.
    const honest = await record(attackerWallet, [valid.consentId]);
    const [event] = parseEventLogs({ abi: kosmosOwnershipAbi, logs: honest.logs, eventName: "Recorded" });
    assert.equal(event.args.owner, attackerWallet.walletClient.account.address);
  });
});

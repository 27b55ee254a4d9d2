import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { ConsentStore, type StoredConsent } from "./store.ts";

const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
const OTHER = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" as const;

function consent(tokenId: bigint, grantedAt: number, contract: `0x${string}` = CONTRACT): StoredConsent {
  return {
    chainId: 31337,
    contract,
    tokenId,
    kind: "netflix",
    purpose: "viewing research",
    contributor: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    grantedAt,
    expiresAt: grantedAt + 86_400_000,
    revokedAt: null,
    gasless: tokenId % 2n === 0n,
    txHash: `0x${tokenId.toString(16).padStart(64, "0")}`,
    revokeTxHash: null,
  };
}

Deno.test("ConsentStore keeps consents per chain and contract, oldest first, and their revocations", () => {
  const db = openDatabase(":memory:");
  try {
    const store = new ConsentStore(db);
    store.open();
    store.open();
    store.put(consent(2n, 2000));
    store.put(consent(1n, 1000));
    store.put(consent(10n, 2000));
    store.put(consent(1n, 500, OTHER));
    assert.deepEqual(store.list(31337, CONTRACT).map((c) => c.tokenId), [1n, 2n, 10n]);
    assert.deepEqual(store.list(31337, OTHER).map((c) => c.tokenId), [1n]);
    assert.deepEqual(store.list(1, CONTRACT), []);
    assert.deepEqual(store.get(31337, CONTRACT, 2n), consent(2n, 2000));
    assert.equal(store.get(31337, CONTRACT, 3n), undefined);

    const hash = `0x${"ab".repeat(32)}` as const;
    store.setRevoked(31337, CONTRACT, 2n, 3000, hash);
    assert.deepEqual([
      store.get(31337, CONTRACT, 2n)?.revokedAt,
      store.get(31337, CONTRACT, 2n)?.revokeTxHash,
    ], [
      3000,
      hash,
    ]);
    // Found revoked on chain later without a hash: the known hash stays.
    store.setRevoked(31337, CONTRACT, 2n, 3000, null);
    assert.equal(store.get(31337, CONTRACT, 2n)?.revokeTxHash, hash);

    const who = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" as const;
    assert.equal(store.getScannedBlock(31337, CONTRACT, who), -1n);
    store.setScannedBlock(31337, CONTRACT, who, 42n);
    store.setScannedBlock(31337, CONTRACT, who, 43n);
    assert.equal(store.getScannedBlock(31337, CONTRACT, who), 43n);
    assert.equal(store.getScannedBlock(31337, OTHER, who), -1n);
  } finally {
    db.close();
  }
});

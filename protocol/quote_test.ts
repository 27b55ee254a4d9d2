import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Address,
  bytesToHex,
  concat,
  getAddress,
  hashTypedData,
  type Hex,
  hexToBigInt,
  keccak256,
  numberToHex,
  pad,
  stringToHex,
} from "viem";
import {
  computeDekCommit,
  computeSaleKeyCommit,
  computeSalePad,
  decodeSaleKeys,
  encodeSaleKeys,
  getEscrowDomain,
  type Quote,
  quoteTypes,
  SALE_COMMIT_TAG,
  SALE_PAD_TAG,
} from "./quote.ts";

const ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Address;

const xor = (a: Hex, b: Hex): Hex => numberToHex(hexToBigInt(a) ^ hexToBigInt(b), { size: 32 });
const word = (n: bigint): Hex => numberToHex(n, { size: 32 });

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b));
const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(bytesToHex(b)));

/** Everything a seller hands out before the buyer pays, as 32-byte words. */
function publicValues(dek: Hex, kSale: Hex, fields: Omit<Quote, "zHash" | "kSaleHash" | "dekCommit">): Hex[] {
  const z = encodeSaleKeys([dek], kSale);
  const quote: Quote = {
    ...fields,
    zHash: keccak256(z),
    kSaleHash: computeSaleKeyCommit(kSale),
    dekCommit: computeDekCommit([dek]),
  };
  const digest = hashTypedData({
    domain: getEscrowDomain(31337, ESCROW),
    types: quoteTypes,
    primaryType: "Quote",
    message: quote,
  });
  return [
    quote.dekCommit, // the manifest's and the listing's keccak256(DEK)
    quote.zHash,
    quote.kSaleHash,
    z,
    digest, // the sale id
    word(quote.listingId),
    word(quote.price),
    word(quote.nonce),
    word(quote.deadline),
    pad(quote.buyer),
    pad(quote.gateway),
  ];
}

/**
 * The values an attacker derives from `values` in one step: each value, its keccak256, the pad recipe
 * applied to it as if it were kSale, the XOR of each pair, and the XOR of each value with the
 * keccak256 (and the would-be pad) of each value.
 */
function closure(values: Hex[]): Set<Hex> {
  const hashes = values.map((v) => keccak256(v));
  const pads = values.map((v) => computeSalePad(v, 0));
  const out = new Set<Hex>([...values, ...hashes, ...pads]);
  for (const a of values) {
    for (const b of [...values, ...hashes, ...pads]) out.add(xor(a, b));
  }
  return out;
}

Deno.test("computeSaleKeyCommit() and computeSalePad() hash tagged, distinct inputs", () => {
  const kSale = keccak256(stringToHex("k"));
  assert.equal(computeSaleKeyCommit(kSale), keccak256(concat([stringToHex(SALE_COMMIT_TAG), kSale])));
  assert.equal(computeSalePad(kSale, 2), keccak256(concat([stringToHex(SALE_PAD_TAG), kSale, word(2n)])));
  assert.notEqual(computeSaleKeyCommit(kSale), computeSalePad(kSale, 0));
  assert.notEqual(computeSalePad(kSale, 0), computeSalePad(kSale, 1));
  assert.notEqual(computeSaleKeyCommit(kSale), keccak256(kSale));
  assert.throws(() => computeSaleKeyCommit("0x12"), TypeError);
  assert.throws(() => computeSalePad("0xzz" as Hex, 0), TypeError);
  assert.throws(() => computeSalePad(kSale, -1), RangeError);
  assert.throws(() => computeSalePad(kSale, 1.5), RangeError);
});

Deno.test("encodeSaleKeys() and decodeSaleKeys() round-trip any batch of keys", () => {
  fc.assert(
    fc.property(fc.array(bytes32, { minLength: 1, maxLength: 5 }), bytes32, (deks, kSale) => {
      assert.deepEqual(decodeSaleKeys(encodeSaleKeys(deks, kSale), kSale), deks);
    }),
    { numRuns: 200 },
  );
});

Deno.test("property: nothing a seller sends before payment combines into the DEK or a pad", () => {
  const fields = fc.record({
    listingId: fc.bigInt({ min: 1n, max: 2n ** 64n }),
    buyer: address,
    price: fc.bigInt({ min: 0n, max: 2n ** 96n - 1n }),
    gateway: address,
    nonce: fc.bigInt({ min: 0n, max: 2n ** 64n }),
    deadline: fc.bigInt({ min: 0n, max: 2n ** 40n }),
  });
  fc.assert(
    fc.property(bytes32, bytes32, fields, (dek, kSale, f) => {
      const derived = closure(publicValues(dek, kSale, f));
      assert.equal(derived.has(dek), false, "the DEK is derivable from the public values");
      assert.equal(derived.has(computeSalePad(kSale, 0)), false, "pad_0 is derivable from the public values");
      assert.equal(derived.has(kSale), false, "kSale is derivable from the public values");
    }),
    { numRuns: 300 },
  );
});

Deno.test("the old untagged commitment gave the DEK away; the tagged one does not", () => {
  const dek = keccak256(stringToHex("dataset key"));
  const kSale = keccak256(stringToHex("one-time sale key"));
  // The old protocol: commit = keccak256(kSale) and pad_0 = keccak256(bytes32(uint256(kSale) ^ 0)).
  const oldCommit = keccak256(kSale);
  const oldPad0 = keccak256(word(hexToBigInt(kSale) ^ 0n));
  const oldZ = xor(dek, oldPad0);
  assert.equal(xor(oldZ, oldCommit), dek, "the old quote's Z ⊕ kSaleHash was the DEK");
  // The new protocol: the same attack yields garbage, and the real key only comes with kSale.
  const z = encodeSaleKeys([dek], kSale);
  const kSaleHash = computeSaleKeyCommit(kSale);
  assert.notEqual(xor(z, kSaleHash), dek);
  assert.notEqual(xor(z, keccak256(kSaleHash)), dek);
  assert.equal(
    closure(publicValues(dek, kSale, {
      listingId: 1n,
      buyer: ESCROW,
      price: 1n,
      gateway: ESCROW,
      nonce: 0n,
      deadline: 1n,
    })).has(dek),
    false,
  );
  assert.deepEqual(decodeSaleKeys(z, kSale), [dek]);
});

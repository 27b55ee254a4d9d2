/**
 * EIP-712 types and domains of the escrow {@link Quote} and the consent {@link ConsentGrant}, and the
 * key-sale arithmetic (`Z`, `dekCommit`, `DEK` recovery) shared by the node, the web app and tests.
 *
 * Every hash of the one-time sale key has one job and its own tag (docs/key-sale.md): the quote's
 * `kSaleHash` is {@link computeSaleKeyCommit}, the pads are {@link computeSalePad}; no value a seller
 * sends before payment equals a pad.
 *
 * ```ts
 * const kSale = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
 * const z = encodeSaleKeys([dek], kSale);
 * const signature = await wallet.signTypedData({
 *   domain: getEscrowDomain(chainId, escrowAddress),
 *   types: quoteTypes,
 *   primaryType: "Quote",
 *   message: { listingId, buyer, price, zHash: keccak256(z), kSaleHash: computeSaleKeyCommit(kSale),
 *     dekCommit: computeDekCommit([dek]), gateway, nonce, deadline },
 * });
 * decodeSaleKeys(z, kSale); // [dek]
 * ```
 */
import {
  type Address,
  concat,
  type Hex,
  hexToBigInt,
  isHex,
  keccak256,
  numberToHex,
  size,
  slice,
  stringToHex,
} from "viem";

/** Tag of the published commitment to `kSale`: `keccak256("kosmos.sale.commit" ‖ kSale)`. */
export const SALE_COMMIT_TAG = "kosmos.sale.commit";

/** Tag of the pads: `keccak256("kosmos.sale.pad" ‖ kSale ‖ uint256(i))`. */
export const SALE_PAD_TAG = "kosmos.sale.pad";

/** EIP-712 domain name and version of the escrow. */
export const ESCROW_DOMAIN = { name: "Kosmos Escrow", version: "1" } as const;

/** EIP-712 domain name and version of the consent registry. */
export const CONSENT_DOMAIN = { name: "Kosmos Consent", version: "1" } as const;

/** EIP-712 types of the escrow quote (same field order as the contract's `Quote`). */
export const quoteTypes = {
  Quote: [
    { name: "listingId", type: "uint256" },
    { name: "buyer", type: "address" },
    { name: "price", type: "uint256" },
    { name: "zHash", type: "bytes32" },
    { name: "kSaleHash", type: "bytes32" },
    { name: "dekCommit", type: "bytes32" },
    { name: "gateway", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** EIP-712 types of a relayed consent grant. */
export const consentGrantTypes = {
  Grant: [
    { name: "contributor", type: "address" },
    { name: "source", type: "bytes32" },
    { name: "purpose", type: "bytes32" },
    { name: "expiry", type: "uint64" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** A seller's offer to one buyer; see `IKosmosEscrow.Quote`. Timestamps in seconds. */
export interface Quote {
  listingId: bigint;
  buyer: Address;
  price: bigint;
  zHash: Hex;
  kSaleHash: Hex;
  dekCommit: Hex;
  /** The zero address when no gateway brokered the sale. */
  gateway: Address;
  nonce: bigint;
  deadline: bigint;
}

/** An open sale as the escrow stores it (by hash); see `IKosmosEscrow.Sale`. */
export interface Sale {
  /** The listing sold. */
  listingId: bigint;
  buyer: Address;
  seller: Address;
  gateway: Address;
  price: bigint;
  revealDeadline: number;
  /** 0 until the key is revealed. */
  disputeDeadline: number;
  /** 0 unless the buyer disputed the data, then when (seconds). */
  disputedAt: number;
  zHash: Hex;
  kSaleHash: Hex;
  dekCommit: Hex;
}

/** A contributor's signed consent grant; see `IKosmosConsent.grantBySig`. */
export interface ConsentGrant {
  contributor: Address;
  source: Hex;
  purpose: Hex;
  expiry: bigint;
  nonce: bigint;
  deadline: bigint;
}

export interface TypedDataDomain {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
}

/** The escrow's EIP-712 domain on `chainId` at `escrow`. */
export function getEscrowDomain(chainId: number, escrow: Address): TypedDataDomain {
  return { ...ESCROW_DOMAIN, chainId, verifyingContract: escrow };
}

/** The consent registry's EIP-712 domain on `chainId` at `consent`. */
export function getConsentDomain(chainId: number, consent: Address): TypedDataDomain {
  return { ...CONSENT_DOMAIN, chainId, verifyingContract: consent };
}

/**
 * The commitment to `kSale` a quote carries as `kSaleHash`: `keccak256("kosmos.sale.commit" ‖ kSale)`,
 * what the escrow checks the revealed key against.
 */
export function computeSaleKeyCommit(kSale: Hex): Hex {
  checkKey(kSale, "compute the sale key commitment");
  return keccak256(concat([stringToHex(SALE_COMMIT_TAG), kSale]));
}

/** The one-time pad of key `index` of a sale: `keccak256("kosmos.sale.pad" ‖ kSale ‖ uint256(index))`. */
export function computeSalePad(kSale: Hex, index: number): Hex {
  checkKey(kSale, "compute a sale pad");
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`Cannot compute a sale pad: index ${index} is not a non-negative integer`);
  }
  return keccak256(concat([stringToHex(SALE_PAD_TAG), kSale, numberToHex(index, { size: 32 })]));
}

/** `Z = DEK_0 ⊕ pad_0 ‖ … ‖ DEK_{n-1} ⊕ pad_{n-1}` for 32-byte DEKs. */
export function encodeSaleKeys(deks: readonly Hex[], kSale: Hex): Hex {
  if (deks.length === 0) throw new RangeError("Cannot encode sale keys: no key given");
  return concat(deks.map((dek, i) => xor32(dek, computeSalePad(kSale, i))));
}

/** Recovers the DEKs from `Z` and the revealed `kSale`. */
export function decodeSaleKeys(z: Hex, kSale: Hex): Hex[] {
  const n = size(z);
  if (n === 0 || n % 32 !== 0) throw new RangeError(`Cannot decode sale keys: Z is ${n} bytes, not 32·n`);
  return Array.from(
    { length: n / 32 },
    (_, i) => xor32(slice(z, i * 32, i * 32 + 32), computeSalePad(kSale, i)),
  );
}

/** `keccak256(DEK_0 ‖ … ‖ DEK_{n-1})`; for one key, the manifest's `keccak256(DEK)`. */
export function computeDekCommit(deks: readonly Hex[]): Hex {
  return keccak256(concat([...deks]));
}

function checkKey(kSale: Hex, what: string): void {
  if (!isHex(kSale, { strict: true }) || size(kSale) !== 32) {
    throw new TypeError(`Cannot ${what}: kSale must be 32 bytes of hex`);
  }
}

function xor32(a: Hex, b: Hex): Hex {
  if (size(a) !== 32 || size(b) !== 32) throw new RangeError("Cannot xor: both values must be 32 bytes");
  return numberToHex(hexToBigInt(a) ^ hexToBigInt(b), { size: 32 });
}

/**
 * The secrets of pairing: codes a person reads off My data and types into the extension, and the
 * tokens the extension keeps. Only their SHA-256 digests are ever stored.
 *
 * ```ts
 * const code = createPairingCode(); // "K7QM-3XWD"
 * normalizePairingCode(" k7qm 3xwd "); // "K7QM3XWD"
 * const token = createExtensionToken(); // "kx_…" (32 random bytes)
 * digest(token); // what the table keeps
 * ```
 */
import { createHash } from "node:crypto";

/** Letters and digits that cannot be read as one another (no 0/O, 1/I/L). */
export const CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/** Characters of a pairing code. */
export const CODE_LENGTH = 8;
const TOKEN_PREFIX = "kx_";

/** A fresh code of {@link CODE_LENGTH} characters, uniformly drawn, shown as `ABCD-EFGH`. */
export function createPairingCode(): string {
  const chars: string[] = [];
  const limit = 256 - (256 % CODE_ALPHABET.length); // rejection sampling: no bias
  while (chars.length < CODE_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(16))) {
      if (byte < limit && chars.length < CODE_LENGTH) chars.push(CODE_ALPHABET[byte % CODE_ALPHABET.length]);
    }
  }
  return `${chars.slice(0, 4).join("")}-${chars.slice(4).join("")}`;
}

/** A typed code without dashes, spaces and case; null when it cannot be a code. */
export function normalizePairingCode(typed: string): string | null {
  const code = typed.replace(/[\s-]/g, "").toUpperCase();
  if (code.length !== CODE_LENGTH) return null;
  for (const ch of code) if (!CODE_ALPHABET.includes(ch)) return null;
  return code;
}

/** A fresh extension token: `kx_` and 32 random bytes in base64url. */
export function createExtensionToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return TOKEN_PREFIX + btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Whether `token` has the shape of an extension token (before any lookup). */
export function isExtensionTokenShape(token: string): boolean {
  return /^kx_[A-Za-z0-9_-]{43}$/.test(token);
}

/** The hex SHA-256 of a code or token: what is stored and looked up. */
export function digest(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

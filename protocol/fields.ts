/**
 * Field checks the protocol's formats share (the manifest, pools, streams…):
 * each throws a {@link FieldError} naming the field, which the public
 * validators turn into `Invalid manifest: field "…" …` and the like.
 *
 * ```ts
 * const privacy = checkObject(value.privacy, "privacy");
 * checkKeys(privacy, ["k", "epsilon"], "privacy");
 * const k = checkInteger(privacy.k, "privacy.k", 1, 1_000_000_000);
 * ```
 */
import { CID } from "multiformats/cid";

/**
 * Thrown by the `check*` helpers, which the protocol formats share; the public
 * validators catch it and add the subject (`Invalid manifest: field "…" …`).
 */
export class FieldError extends TypeError {
  constructor(field: string, problem: string) {
    super(`field "${field}" ${problem}`);
  }
}

export type Obj = Record<string, unknown>;

export function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    CID.asCID(value) === null;
}

/** Rejects keys outside `allowed` so every manifest has one encoding. */
export function checkKeys(value: Obj, allowed: readonly string[], field: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new FieldError(field ? `${field}.${key}` : key, "is not allowed");
  }
}

export function checkObject(value: unknown, field: string): Obj {
  if (!isObject(value)) throw new FieldError(field, "must be an object");
  return value;
}

export function checkString(value: unknown, field: string, max: number, { min = 0 } = {}): string {
  if (typeof value !== "string") throw new FieldError(field, "must be a string");
  if (value.length < min) {
    throw new FieldError(field, min === 1 ? "must not be empty" : `must be at least ${min} characters`);
  }
  if (value.length > max) throw new FieldError(field, `must be at most ${max} characters`);
  return value;
}

export function checkInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new FieldError(field, "must be an integer");
  }
  if (value < min || value > max) throw new FieldError(field, `must be between ${min} and ${max}`);
  return value;
}

export function checkArray(value: unknown, field: string, max: number, { min = 0 } = {}): unknown[] {
  if (!Array.isArray(value)) throw new FieldError(field, "must be an array");
  if (value.length < min) throw new FieldError(field, `must have at least ${min} entries`);
  if (value.length > max) throw new FieldError(field, `must have at most ${max} entries`);
  return value;
}

export function checkOneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw new FieldError(field, `must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

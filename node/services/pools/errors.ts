/**
 * What a pool action can fail with, besides bad arguments (`TypeError`/`RangeError`), an unknown pool
 * (`NotFoundError`) and the consent service's errors.
 */
import { KosmosError } from "../../errors.ts";
import type { PoolRefusal } from "../../../protocol/pools.ts";

/** The action is the pool operator's, and this node is not it (or the other way round). */
export class NotPoolOperatorError extends KosmosError {
  override name = "NotPoolOperatorError";
}

/** The operator's node answered the join or leave with a refusal (its code is in `details.code`). */
export class PoolJoinRefusedError extends KosmosError {
  override name = "PoolJoinRefusedError";
  readonly code: PoolRefusal;
  constructor(code: PoolRefusal, message: string) {
    super(message, { details: { code } });
    this.code = code;
  }
}

/** The operator's node could not be reached, or broke the protocol. */
export class PoolUnreachableError extends KosmosError {
  override name = "PoolUnreachableError";
}

/** A version has nothing to publish: no member, or no member answered with valid rows. */
export class EmptyVersionError extends KosmosError {
  override name = "EmptyVersionError";
}

/**
 * Domain errors. Each failure the node can report has one small class; callers
 * match on `err.name`. Bad arguments use the built-ins (`TypeError`,
 * `RangeError`) instead. The base class lives in `protocol/errors.ts`, so protocol
 * codecs can extend it too.
 */
import { KosmosError } from "../protocol/errors.ts";

export { KosmosError };

/** The node cannot start with the configuration it was given. */
export class ConfigError extends KosmosError {
  override name = "ConfigError";
}

/** A service failed to start (port in use, chain unreachable, …). */
export class StartError extends KosmosError {
  override name = "StartError";
}

/** Something looked for does not exist. */
export class NotFoundError extends KosmosError {
  override name = "NotFoundError";
}

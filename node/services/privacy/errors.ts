/**
 * The privacy service's domain errors. A release that would overspend ε throws the releases'
 * `PrivacyBudgetError` (re-exported by `mod.ts`): one budget, one error.
 */
import { KosmosError } from "../../errors.ts";
import type { SourceKind } from "../../../protocol/sources.ts";

/**
 * The rows read for release differ from the rows counted in the first pass (a source imported or
 * deleted meanwhile): nothing more is released; anonymize again.
 */
export class SourceChangedError extends KosmosError {
  override name = "SourceChangedError";

  constructor(kind: SourceKind, detail: string) {
    super(`The rows of "${kind}" changed while they were anonymized (${detail}); anonymize them again`, {
      details: { kind },
    });
  }
}

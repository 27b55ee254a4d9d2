/**
 * What a person is told before granting consent to share one kind of source: exactly which fields
 * are collected and what happens to each (identifiers never leave the node, quasi-identifiers are
 * coarsened and how, the rest is kept), for what purpose, until when, and how sales pay them (this
 * node's wallet, at the price set when publishing, split as the escrow splits every sale).
 * Browser-safe: the consent island renders it.
 */
import type { FieldSpec, Generalisation, SourceKindInfo } from "../../protocol/sources.ts";
import { formatDay } from "../format.ts";

/** How a quasi-identifier is coarsened, in words. */
export const GENERALISATION_TEXT: Record<Generalisation, string> = {
  hour: "rounded down to the hour",
  day: "rounded down to the day",
  month: "rounded down to the month",
  region: "rounded to a region (a tenth of a degree, a whole degree when needed)",
  range: "put into a range (1, 2, 5 × a power of ten)",
  none: "kept; rows whose value is too rare are left out",
};

/** The escrow's split of every sale (DESIGN.md): seller, gateway operator, platform treasury. */
export const SALE_SPLIT = { seller: 80, gateway: 10, platform: 10 } as const;

export interface ConsentDisclosureProps {
  info: SourceKindInfo;
  purpose: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** This node's wallet, which sales pay. */
  wallet: string;
  /** @default 5 */
  k?: number;
}

function fieldsWith(info: SourceKindInfo, role: FieldSpec["role"]): FieldSpec[] {
  return info.fields.filter((f) => f.role === role);
}

export function ConsentDisclosure({ info, purpose, expiresAt, wallet, k = 5 }: ConsentDisclosureProps) {
  const dropped = fieldsWith(info, "identifier");
  const coarsened = fieldsWith(info, "quasi");
  const kept = fieldsWith(info, "plain");
  return (
    <section
      class="consent-disclosure"
      aria-labelledby="consent-disclosure-title"
      data-testid="consent-disclosure"
    >
      <h3 id="consent-disclosure-title">What you agree to share</h3>
      <dl class="facts">
        <dt>From</dt>
        <dd data-testid="disclosure-kind">{info.label} ({info.files})</dd>
        <dt>Collected</dt>
        <dd>
          <ul class="plain-list disclosure-fields">
            {kept.map((f) => (
              <li key={f.name} data-field={f.name} data-role="plain">
                <strong>{f.label}</strong> <code>{f.name}</code>: shared as is
              </li>
            ))}
            {coarsened.map((f) => (
              <li key={f.name} data-field={f.name} data-role="quasi">
                <strong>{f.label}</strong> <code>{f.name}</code>:{" "}
                {GENERALISATION_TEXT[f.generalise ?? "none"]}
              </li>
            ))}
          </ul>
        </dd>
        <dt>Never shared</dt>
        <dd>
          <ul class="plain-list disclosure-fields">
            {dropped.map((f) => (
              <li key={f.name} data-field={f.name} data-role="identifier">
                <strong>{f.label}</strong> <code>{f.name}</code>: dropped, it stays on this node
              </li>
            ))}
          </ul>
          <span class="muted">
            Rows whose coarsened values fewer than {k} rows share are left out (k-anonymity, k = {k}).
          </span>
        </dd>
        <dt>Purpose</dt>
        <dd data-testid="disclosure-purpose">{purpose}</dd>
        <dt>Until</dt>
        <dd data-testid="disclosure-until">
          {formatDay(expiresAt)}, or until you revoke it: one click, one transaction. Nothing is published
          under it afterwards.
        </dd>
        <dt>Paid</dt>
        <dd data-testid="disclosure-paid">
          Each sale of a publication made under this consent pays this node's wallet{" "}
          <code class="break" data-testid="disclosure-wallet">{wallet}</code>{" "}
          at the price you set when publishing: {SALE_SPLIT.seller} % as the seller and {SALE_SPLIT.gateway}
          {" "}
          % as the gateway operator (you are both), {SALE_SPLIT.platform}{" "}
          % to the platform treasury. The consent record itself is held by the same wallet.
        </dd>
      </dl>
    </section>
  );
}

/**
 * One publication made from this node's sources, as My data lists it: its listing, the kinds and
 * the consent records its rows were published under, its rows, its privacy report, the ownership
 * record this node's wallet holds, and its sales.
 */
import type { PublicationView } from "../../protocol/api/sources.ts";
import type { SourceKind, SourceKindInfo } from "../../protocol/sources.ts";
import { formatDay, formatEther } from "../format.ts";
import { PrivacyReportFacts } from "./privacy_report.tsx";

export interface PublicationCardProps {
  publication: PublicationView;
  kinds: SourceKindInfo[];
}

export function PublicationCard({ publication: p, kinds }: PublicationCardProps) {
  const label = (kind: SourceKind) => kinds.find((k) => k.kind === kind)?.label ?? kind;
  const headingId = `publication-${p.id}`;
  return (
    <section
      class="card publication"
      aria-labelledby={headingId}
      data-testid="publication"
      data-manifest-cid={p.manifestCid}
    >
      <header class="card-header">
        <h3 id={headingId}>
          <a href={`/datasets/${encodeURIComponent(p.manifestCid)}`}>{p.title}</a>
        </h3>
        <span class="chip">{p.kinds.map(label).join(" + ") || "no rows"}</span>
      </header>
      <ul class="listing-stats dataset-stats">
        <li>
          <strong data-testid="publication-rows">{p.rows.toLocaleString("en-US")}</strong>
          <span>rows</span>
        </li>
        <li>
          <strong data-testid="publication-sales">{p.sales.count}</strong>
          <span>
            sale{p.sales.count === 1 ? "" : "s"}
            {p.sales.open > 0 && ` (${p.sales.open} running)`}
          </span>
        </li>
        <li>
          <strong data-testid="publication-revenue">{formatEther(p.sales.revenue)} KOS</strong>
          <span>revenue</span>
        </li>
        <li>
          <strong data-testid="publication-ownership">
            {p.ownershipTokenId === null ? "—" : `#${p.ownershipTokenId}`}
          </strong>
          <span>ownership record</span>
        </li>
      </ul>
      <dl class="facts">
        <dt>Purpose</dt>
        <dd>{p.purpose}</dd>
        <dt>Consents</dt>
        <dd data-testid="publication-consents">
          {p.consentIds.length === 0 ? "none" : p.consentIds.map((id) => `#${id}`).join(", ")}
        </dd>
        {p.excluded.length > 0 && (
          <>
            <dt>Left out</dt>
            <dd data-testid="publication-excluded">
              {p.excluded.map((x) => `${label(x.kind)} (${x.reason})`).join("; ")}
            </dd>
          </>
        )}
        <dt>Published</dt>
        <dd>{formatDay(p.createdAt)}</dd>
      </dl>
      <details class="publication-privacy">
        <summary>Privacy report</summary>
        <PrivacyReportFacts report={p.privacy} released={p.rows} />
      </details>
    </section>
  );
}

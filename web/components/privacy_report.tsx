/**
 * A privacy report as a person reads it: the k of the k-anonymity applied, the ε of any
 * differential-privacy noise (in one sentence for a person-level ε), how many rows were suppressed, which identifiers were dropped and how
 * each quasi-identifier was coarsened. Shared by the listing page (before the buy button), the
 * source previews and the publications of My data; browser-safe (islands render it too).
 */
import type { PrivacyReport } from "../../protocol/manifest.ts";

export interface PrivacyReportFactsProps {
  report: PrivacyReport;
  /** Rows released, when known (a preview or a publication). */
  released?: number;
}

/** Whether a report says anything at all. */
export function isEmptyReport(report: PrivacyReport): boolean {
  return report.k === undefined && report.epsilon === undefined && report.suppressed === undefined &&
    (report.dropped ?? []).length === 0 && Object.keys(report.generalised ?? {}).length === 0;
}

export function PrivacyReportFacts({ report, released }: PrivacyReportFactsProps) {
  if (isEmptyReport(report)) {
    return (
      <p class="muted" data-testid="privacy-report" data-empty="true">
        The seller reports no anonymization: the rows are sold as they were published.
      </p>
    );
  }
  const dropped = report.dropped ?? [];
  const generalised = Object.entries(report.generalised ?? {});
  return (
    <dl class="facts privacy-report" data-testid="privacy-report">
      {report.k !== undefined && (
        <>
          <dt>k-anonymity</dt>
          <dd data-testid="privacy-k" data-k={report.k}>
            k = <strong>{report.k}</strong>: every released row shares its quasi-identifiers with at least
            {" "}
            {report.k - 1} other{report.k === 2 ? "" : "s"}
          </dd>
        </>
      )}
      {report.epsilon !== undefined && (
        <>
          <dt>Differential privacy</dt>
          <dd data-testid="privacy-epsilon" data-unit={report.unit}>
            {report.unit === "person" ? <PersonEpsilon report={report} epsilon={report.epsilon} /> : (
              <>
                ε = <strong>{report.epsilon}</strong>: counts carry calibrated noise
              </>
            )}
          </dd>
        </>
      )}
      {released !== undefined && (
        <>
          <dt>Rows released</dt>
          <dd data-testid="privacy-released">{released.toLocaleString("en-US")}</dd>
        </>
      )}
      {report.suppressed !== undefined && (
        <>
          <dt>Rows suppressed</dt>
          <dd data-testid="privacy-suppressed" data-suppressed={report.suppressed}>
            {report.suppressed.toLocaleString("en-US")}{" "}
            <span class="muted-inline">
              · in classes of fewer than {report.k ?? "k"} rows, left out
            </span>
          </dd>
        </>
      )}
      <dt>Identifiers dropped</dt>
      <dd data-testid="privacy-dropped">
        {dropped.length === 0
          ? "none"
          : dropped.flatMap((f, i) => [i > 0 ? ", " : null, <code key={f}>{f}</code>])}
      </dd>
      <dt>Generalised</dt>
      <dd data-testid="privacy-generalised">
        {generalised.length === 0 ? "nothing" : (
          <ul class="plain-list generalised-list">
            {generalised.map(([field, level]) => (
              <li key={field} data-field={field}>
                <code>{field}</code> → {level}
              </li>
            ))}
          </ul>
        )}
      </dd>
    </dl>
  );
}

/** A person-level ε in one sentence: what it bounds, for whom, over how many days. */
function PersonEpsilon({ report, epsilon }: { report: PrivacyReport; epsilon: number }) {
  const who = report.days === undefined
    ? "anyone in the data"
    : `anyone present on all ${report.days} day${report.days === 1 ? "" : "s"}`;
  return (
    <>
      ε = <strong>{epsilon}</strong> per person: {who} changes the odds of any guess about them by at most e
      <sup>{epsilon}</sup>
      {report.delta ? ` (except with probability δ = ${report.delta})` : ""}
    </>
  );
}

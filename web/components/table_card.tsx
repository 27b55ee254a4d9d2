/** A card holding one table: a heading (with a count badge), then the scrollable table. */
import type { ComponentChildren } from "preact";

export interface TableCardProps {
  title: string;
  /** Shown in a badge after the title; none when omitted. */
  count?: number;
  /** The table's class (`sites-table`, `preview`). */
  class: string;
  "data-testid": string;
  /** The header cells. */
  head: ComponentChildren;
  /** The body rows. */
  children: ComponentChildren;
}

export function TableCard(
  { title, count, class: tableClass, "data-testid": testId, head, children }: TableCardProps,
) {
  return (
    <section class="card">
      <h2>
        {title}
        {count !== undefined && " "}
        {count !== undefined && <span class="badge">{count}</span>}
      </h2>
      <div class="table-wrap">
        <table class={tableClass} data-testid={testId}>
          <thead>
            <tr>{head}</tr>
          </thead>
          <tbody>{children}</tbody>
        </table>
      </div>
    </section>
  );
}

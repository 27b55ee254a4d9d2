/** `/data` — the datasets this node owns and sells. */
import { EmptyState } from "../components/empty_state.tsx";
import { definePage } from "../page.ts";

export const dataPage = definePage({
  path: "/data",
  title: "My data",
  description: "Datasets you import, encrypt and offer for sale, and the consent behind them.",
  Page: () => (
    <EmptyState icon="data" title="No datasets yet">
      Imported datasets will be listed here with their replication and sales. Importing is not available on
      this node yet.
    </EmptyState>
  ),
});

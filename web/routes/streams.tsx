/** `/streams` — real-time data sold by time span. */
import { EmptyState } from "../components/empty_state.tsx";
import { definePage } from "../page.ts";

export const streamsPage = definePage({
  path: "/streams",
  title: "Streams",
  description: "Real-time data, sold by time span and encrypted epoch by epoch.",
  Page: () => (
    <EmptyState icon="streams" title="No streams yet">
      Streams you publish or subscribe to will be listed here. Streams are not available on this node yet.
    </EmptyState>
  ),
});

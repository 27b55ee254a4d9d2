/** `/` — the marketplace: every listing this node has heard announced by peers. */
import { EmptyState } from "../components/empty_state.tsx";
import { definePage } from "../page.ts";

export const marketplacePage = definePage({
  path: "/",
  title: "Marketplace",
  description: "Datasets and streams announced by peers on the network.",
  Page: () => (
    <EmptyState icon="market" title="No listings yet">
      Listings appear here as this node hears signed announcements from its peers. The catalog is not
      connected to this node yet, so there is nothing to browse.
    </EmptyState>
  ),
});

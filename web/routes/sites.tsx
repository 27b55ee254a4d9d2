/** `/sites` — privacy-first analytics for the websites this node collects for. */
import { EmptyState } from "../components/empty_state.tsx";
import { definePage } from "../page.ts";

export const sitesPage = definePage({
  path: "/sites",
  title: "Sites",
  description: "Cookie-less, anonymized statistics for websites that send page views to this node.",
  Page: () => (
    <EmptyState icon="sites" title="No sites yet">
      Once a website sends page views to this node through the Kosmos SDK, its dashboard appears here.
      Collection is not enabled on this node yet.
    </EmptyState>
  ),
});

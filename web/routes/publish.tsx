/** `/publish` — upload a file as a dataset: the PublishForm island with live upload progress. */
import { Island } from "../components/island.tsx";
import { PublishForm } from "../islands/publish_form.tsx";
import { definePage } from "../page.ts";
import { CATEGORIES } from "../../protocol/manifest.ts";

export const publishPage = definePage({
  path: "/publish",
  title: "Publish",
  description: "Encrypt a file on this node and announce it to the network as a dataset for sale.",
  Page: () => (
    <div class="publish-layout">
      <Island name="publish_form" component={PublishForm} props={{ categories: [...CATEGORIES] }} />
      <aside class="card publish-help">
        <h2>What happens</h2>
        <ol class="steps">
          <li>
            <strong>Analyze.</strong>{" "}
            The node detects the schema, counts rows and keeps a few preview rows with identifying columns
            masked.
          </li>
          <li>
            <strong>Encrypt.</strong>{" "}
            The file is split into 1 MiB chunks, each sealed with AES-256-GCM under a fresh dataset key that
            never leaves this node unsold.
          </li>
          <li>
            <strong>Announce.</strong>{" "}
            Your wallet signs the listing; peers index it and replicate the encrypted chunks.
          </li>
        </ol>
      </aside>
    </div>
  ),
});

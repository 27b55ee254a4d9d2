/**
 * The browser entry point: finds the island markers the server rendered
 * (`<kosmos-island data-island="peer_list" data-props="…">`), loads the code
 * of just those islands, reads each one's props from its JSON script tag and
 * hydrates it in place. Pages without islands do not load this file at all.
 */
import { h, hydrate } from "preact";
import { isIslandName, islandLoaders } from "./island_registry.ts";

/** Hydrates every island under `root`. Resolves when all are live. */
export async function hydrateIslands(root: ParentNode = document): Promise<void> {
  const markers = Array.from(root.querySelectorAll<HTMLElement>("kosmos-island[data-island]"));
  await Promise.all(markers.map(async (marker) => {
    const name = marker.dataset.island ?? "";
    if (!isIslandName(name)) {
      console.error(`kosmos: cannot hydrate unknown island "${name}"`);
      return;
    }
    try {
      const component = await islandLoaders[name]();
      hydrate(h(component, readIslandProps(marker)), marker);
      marker.dataset.hydrated = "true";
    } catch (err) {
      console.error(`kosmos: cannot hydrate island "${name}"`, err);
    }
  }));
}

function readIslandProps(marker: HTMLElement): Record<string, unknown> {
  const id = marker.dataset.props;
  const script = id ? document.getElementById(id) : null;
  return script?.textContent ? JSON.parse(script.textContent) : {};
}

await hydrateIslands();

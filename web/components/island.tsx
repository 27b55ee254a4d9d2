/**
 * Server side of islands. `<Island name component props>` renders the
 * component to HTML inside a `<kosmos-island>` marker and writes its props as
 * JSON in a script tag next to it, where `web/client.ts` finds them to hydrate.
 * Pages record which islands they used through `IslandsContext`, so the layout
 * only loads the client (and preloads those island chunks) when there are any.
 */
import { type ComponentType, createContext, h } from "preact";
import { useContext, useId } from "preact/hooks";
import type { IslandName } from "../island_registry.ts";

/** Collects the islands one page render used. */
export interface IslandCollector {
  used: Set<IslandName>;
}

export const IslandsContext = createContext<IslandCollector | undefined>(undefined);

export interface IslandProps<P extends Record<string, unknown>> {
  /** The island's file name in `web/islands/`, as listed in `web/island_registry.ts`. */
  name: IslandName;
  component: ComponentType<P>;
  /** Serialized to JSON: plain data only. */
  props: P;
}

export function Island<P extends Record<string, unknown>>({ name, component, props }: IslandProps<P>) {
  useContext(IslandsContext)?.used.add(name);
  const propsId = `island-props-${useId()}`;
  return (
    <>
      {h("kosmos-island", { "data-island": name, "data-props": propsId }, h(component, props))}
      <script
        type="application/json"
        id={propsId}
        dangerouslySetInnerHTML={{ __html: serializeForScript(props) }}
      />
    </>
  );
}

/**
 * JSON that is safe inside `<script>`: `<`, `>`, `&` and the JavaScript line
 * separators are written as `\uXXXX` escapes, so no value can close the tag.
 */
export function serializeForScript(value: unknown): string {
  return (JSON.stringify(value) ?? "null").replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

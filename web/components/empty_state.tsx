/** A card that says honestly that there is nothing here yet, and why. */
import type { ComponentChildren } from "preact";
import { Icon, type IconName } from "./icons.tsx";

export interface EmptyStateProps {
  icon: IconName;
  title: string;
  children: ComponentChildren;
}

export function EmptyState({ icon, title, children }: EmptyStateProps) {
  return (
    <section class="card empty-state">
      <span class="empty-icon">
        <Icon name={icon} size={28} />
      </span>
      <h2>{title}</h2>
      <p>{children}</p>
    </section>
  );
}

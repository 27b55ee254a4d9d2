/**
 * The document around every page: head (stylesheet, client script when the
 * page has islands), a sidebar with the navigation, and the page heading. The
 * page body arrives already rendered, as HTML.
 */
import type { ComponentChildren } from "preact";
import { Icon, type IconName } from "./icons.tsx";

export interface NavItem {
  href: string;
  label: string;
  icon: IconName;
}

export const navItems: NavItem[] = [
  { href: "/", label: "Marketplace", icon: "market" },
  { href: "/data", label: "My data", icon: "data" },
  { href: "/pools", label: "Pools", icon: "data" },
  { href: "/purchases", label: "My purchases", icon: "purchases" },
  { href: "/sales", label: "Sales", icon: "sales" },
  { href: "/sites", label: "Sites", icon: "sites" },
  { href: "/streams", label: "Streams", icon: "streams" },
  { href: "/wallet", label: "Wallet", icon: "wallet" },
  { href: "/network", label: "Network", icon: "network" },
];

/** Shown only when this node's wallet is the registry's arbiter. */
export const arbiterNavItems: NavItem[] = [
  { href: "/arbitration", label: "Arbitration", icon: "data" },
];

export interface LayoutAssets {
  /** URL of the stylesheet. */
  style: string;
  /** URL of the island boot script; omitted when the page has no islands. */
  client?: string;
  /** Module URLs to preload (the chunks of the page's islands). */
  preload?: string[];
}

export interface LayoutProps {
  title: string;
  description?: string;
  /** The request path, to mark the current navigation item. */
  path: string;
  assets: LayoutAssets;
  /** The rendered page body. */
  html?: string;
  /** Adds the arbiter's pages to the navigation. @default false */
  arbiter?: boolean;
  children?: ComponentChildren;
}

export function Layout({ title, description, path, assets, html, arbiter, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${title} · Kosmos`}</title>
        <link rel="icon" href={faviconHref} />
        <link rel="stylesheet" href={assets.style} />
        {assets.preload?.map((href) => <link key={href} rel="modulepreload" href={href} />)}
        {assets.client && <script type="module" src={assets.client} />}
      </head>
      <body>
        <div class="shell">
          <aside class="sidebar">
            <a class="brand" href="/">
              <span class="brand-mark">
                <Icon name="logo" size={22} />
              </span>
              <span class="brand-name">Kosmos</span>
            </a>
            <nav aria-label="Main">
              <ul class="nav">
                {(arbiter ? [...navItems, ...arbiterNavItems] : navItems).map((item) => {
                  const current = isCurrent(item.href, path);
                  return (
                    <li key={item.href}>
                      <a
                        href={item.href}
                        class={current ? "active" : undefined}
                        aria-current={current ? "page" : undefined}
                      >
                        <Icon name={item.icon} />
                        <span>{item.label}</span>
                      </a>
                    </li>
                  );
                })}
              </ul>
            </nav>
            <p class="sidebar-foot">Your data, your node.</p>
          </aside>
          <main class="content">
            <header class="page-header">
              <h1>{title}</h1>
              {description && <p>{description}</p>}
            </header>
            {html !== undefined
              ? <div class="page-body" dangerouslySetInnerHTML={{ __html: html }} />
              : <div class="page-body">{children}</div>}
          </main>
        </div>
      </body>
    </html>
  );
}

function isCurrent(href: string, path: string): boolean {
  return href === "/" ? path === "/" : path === href || path.startsWith(href + "/");
}

const faviconHref = "data:image/svg+xml," + encodeURIComponent(
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#6d5dfc" stroke-width="2">` +
    `<circle cx="12" cy="12" r="3"/><ellipse cx="12" cy="12" rx="10" ry="4.5" transform="rotate(-30 12 12)"/></svg>`,
);

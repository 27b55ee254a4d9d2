/**
 * The Kosmos website tracker, served by every node at `/js/kosmos.js`
 * (bundled and minified by `web/build.ts`; under 1 KB gzipped). Paste into
 * a site's pages:
 *
 *     <script defer data-domain="example.com" data-api="https://any-kosmos-node.example"
 *       src="https://any-kosmos-node.example/js/kosmos.js"></script>
 *
 * It sends a pageview on load and on every SPA navigation (`history.pushState`,
 * `replaceState`, `popstate`; with `data-hash`, also hash changes), and
 * custom events through `window.kosmos("Signup", { props: { plan: "pro" } })`
 * (calls made before it loaded are queued in `window.kosmos.q`). It uses no
 * cookies, and sends nothing at all when the browser asks not to be tracked
 * (Do-Not-Track or Global Privacy Control). A site that asks its visitors
 * calls `kosmos.consent(true)` when one agrees (remembered in
 * `localStorage.kosmos_consent`, the only thing it ever stores, and only
 * then) and `kosmos.consent(false)` when one declines or withdraws; events
 * of agreeing visitors carry `c: 1`, so the owner can sell statistics of
 * those visitors only. Without a call, no visitor has agreed. Requests are
 * `text/plain` with `sendBeacon` (or `fetch` with `keepalive`), so browsers
 * need no CORS preflight. `data-api` defaults to the script's own origin; it
 * may also be a whole endpoint, such as the site's first-party event path
 * (`data-api="/x/collect"` with `src="/js/stats.js"`, both reverse-proxied to
 * a node that has them set for the site: `PUT /api/v1/sites/:domain/paths`).
 */

type Props = Record<string, string | number | boolean>;
type Kosmos = ((name: string, options?: { props?: Props }) => void) & {
  q?: IArguments[];
  consent?: (agreed: boolean) => void;
};

((w: Window & { kosmos?: Kosmos; doNotTrack?: string }, d: Document) => {
  const script = d.currentScript as HTMLScriptElement | null;
  const nav = navigator as Navigator & { globalPrivacyControl?: boolean; msDoNotTrack?: string };
  const attr = (name: string) => script && script.getAttribute("data-" + name);
  const hashMode = attr("hash") !== null;
  const domain = attr("domain") || location.hostname;
  // `data-api`: a node's origin (events go to its /api/event) or a whole endpoint, such as a
  // site's first-party event path ("/x/collect").
  const api = attr("api") || (script ? new URL(script.src).origin : "");
  const endpoint = /^(https?:\/\/[^/]+)?\/?$/.test(api) ? api.replace(/\/$/, "") + "/api/event" : api;
  const optedOut = nav.globalPrivacyControl === true ||
    [nav.doNotTrack, w.doNotTrack, nav.msDoNotTrack].some((v) => v === "1" || v === "yes");
  let last: string | undefined;
  const storage = () => {
    try {
      return w.localStorage;
    } catch {
      return undefined;
    }
  };
  let consented = storage()?.getItem("kosmos_consent") === "1";

  const send = (name: string, options?: { props?: Props }) => {
    if (optedOut) return;
    const body = JSON.stringify({
      n: name,
      u: location.href,
      d: domain,
      r: d.referrer || null,
      p: options && options.props,
      h: hashMode || undefined,
      c: consented ? 1 : undefined,
    });
    if (!(nav.sendBeacon && nav.sendBeacon(endpoint, new Blob([body], { type: "text/plain" })))) {
      fetch(endpoint, { method: "POST", body, keepalive: true, headers: { "Content-Type": "text/plain" } })
        .catch(() => {});
    }
  };

  const pageview = () => {
    const page = location.pathname + (hashMode ? location.hash : "");
    if (page === last) return;
    last = page;
    send("pageview");
  };

  const queued = (w.kosmos && w.kosmos.q) || [];
  const kosmos: Kosmos = (name, options) => send(name, options);
  kosmos.consent = (agreed) => {
    consented = agreed === true;
    const store = storage();
    if (store) consented ? store.setItem("kosmos_consent", "1") : store.removeItem("kosmos_consent");
  };
  w.kosmos = kosmos;
  for (const args of queued) send(args[0], args[1]);

  const history = w.history;
  for (const method of ["pushState", "replaceState"] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
      original.apply(this, args);
      pageview();
    };
  }
  w.addEventListener("popstate", pageview);
  if (hashMode) w.addEventListener("hashchange", pageview);
  pageview();
})(window, document);

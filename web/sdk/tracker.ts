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
 * cookies and no storage, and sends nothing at all when the browser asks
 * not to be tracked (Do-Not-Track or Global Privacy Control). Requests are
 * `text/plain` with `sendBeacon` (or `fetch` with `keepalive`), so browsers
 * need no CORS preflight. `data-api` defaults to the script's own origin.
 */

type Props = Record<string, string | number | boolean>;
type Kosmos = ((name: string, options?: { props?: Props }) => void) & { q?: IArguments[] };

((w: Window & { kosmos?: Kosmos; doNotTrack?: string }, d: Document) => {
  const script = d.currentScript as HTMLScriptElement | null;
  const nav = navigator as Navigator & { globalPrivacyControl?: boolean; msDoNotTrack?: string };
  const attr = (name: string) => script && script.getAttribute("data-" + name);
  const hashMode = attr("hash") !== null;
  const domain = attr("domain") || location.hostname;
  const endpoint = (attr("api") || (script ? new URL(script.src).origin : "")) + "/api/event";
  const optedOut = nav.globalPrivacyControl === true ||
    [nav.doNotTrack, w.doNotTrack, nav.msDoNotTrack].some((v) => v === "1" || v === "yes");
  let last: string | undefined;

  const send = (name: string, options?: { props?: Props }) => {
    if (optedOut) return;
    const body = JSON.stringify({
      n: name,
      u: location.href,
      d: domain,
      r: d.referrer || null,
      p: options && options.props,
      h: hashMode || undefined,
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

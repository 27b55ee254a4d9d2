/**
 * `visit:channel`: Plausible's acquisition channel of a visit, from its
 * source (the referrer's name as `referrer.ts` gives it) and UTM tags, as
 * one SQL `CASE` over the visit's columns, the same in SQLite and DuckDB.
 * The order of the rules is Plausible's: paid before organic, specific
 * categories before the generic "Referral".
 *
 * ```ts
 * const sql = channelSql("v"); // CASE WHEN … THEN 'Paid Search' … ELSE 'Direct' END
 * ```
 */

/** The channels, as Plausible names them. */
export const CHANNELS = [
  "Cross-network",
  "Paid Shopping",
  "Paid Search",
  "Paid Social",
  "Paid Video",
  "Display",
  "Paid Other",
  "Organic Shopping",
  "Organic Social",
  "Organic Video",
  "Organic Search",
  "Email",
  "Affiliates",
  "Audio",
  "SMS",
  "Mobile Push Notifications",
  "Referral",
  "Direct",
] as const;

const SEARCH = [
  "Google",
  "Bing",
  "DuckDuckGo",
  "Yahoo!",
  "Yandex",
  "Baidu",
  "Ecosia",
  "Qwant",
  "Startpage",
  "Brave",
  "Naver",
  "Seznam",
  "Sogou",
  "Yahoo",
  "Kagi",
  "Perplexity",
];
const SOCIAL = [
  "Facebook",
  "Instagram",
  "Twitter",
  "X",
  "LinkedIn",
  "Reddit",
  "Pinterest",
  "Mastodon",
  "Bluesky",
  "Threads",
  "Tumblr",
  "VKontakte",
  "Hacker News",
  "news.ycombinator.com",
  "Discord",
  "Telegram",
  "WhatsApp",
  "Quora",
  "t.co",
  "lnkd.in",
];
const VIDEO = ["YouTube", "Vimeo", "Twitch", "TikTok", "Dailymotion"];
const SHOPPING = ["Amazon", "eBay", "Etsy", "Shopify", "Walmart", "AliExpress"];
const EMAIL = ["Gmail", "Outlook.com", "Yahoo! Mail", "Proton Mail", "mail.google.com"];

/** A SQL string literal list, e.g. `('a', 'b')` (the values are constants of this file). */
function list(values: readonly string[]): string {
  return `(${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(", ")})`;
}

/**
 * The channel of a visit as a SQL expression over the visit alias `v`
 * (`source`, `referrer`, `utm_source`, `utm_medium`, `utm_campaign`).
 */
export function channelSql(v: string): string {
  const source = `lower(COALESCE(${v}.source, ''))`;
  const medium = `lower(COALESCE(${v}.utm_medium, ''))`;
  const utmSource = `lower(COALESCE(${v}.utm_source, ''))`;
  const campaign = `lower(COALESCE(${v}.utm_campaign, ''))`;
  const lower = (values: string[]) => list(values.map((s) => s.toLowerCase()));
  const isSearch = `(${source} IN ${lower(SEARCH)} OR ${utmSource} IN ${lower(SEARCH)})`;
  const isSocial = `(${source} IN ${lower(SOCIAL)} OR ${utmSource} IN ${lower(SOCIAL)})`;
  const isVideo = `(${source} IN ${lower(VIDEO)} OR ${utmSource} IN ${lower(VIDEO)})`;
  const isShopping = `(${source} IN ${lower(SHOPPING)} OR ${utmSource} IN ${
    lower(SHOPPING)
  } OR ${campaign} LIKE '%shop%')`;
  const paid =
    `(${medium} LIKE '%cp%' OR ${medium} IN ('ppc', 'retargeting', 'paid') OR ${medium} LIKE 'paid%')`;
  return `CASE
    WHEN ${campaign} = 'cross-network' THEN 'Cross-network'
    WHEN ${isShopping} AND ${paid} THEN 'Paid Shopping'
    WHEN ${isSearch} AND ${paid} THEN 'Paid Search'
    WHEN ${isSocial} AND ${paid} THEN 'Paid Social'
    WHEN ${isVideo} AND ${paid} THEN 'Paid Video'
    WHEN ${medium} IN ('display', 'banner', 'expandable', 'interstitial', 'cpm') THEN 'Display'
    WHEN ${paid} THEN 'Paid Other'
    WHEN ${isShopping} THEN 'Organic Shopping'
    WHEN ${isSocial} OR ${medium} IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media') THEN 'Organic Social'
    WHEN ${isVideo} OR ${medium} LIKE '%video%' THEN 'Organic Video'
    WHEN ${isSearch} OR ${medium} = 'organic' THEN 'Organic Search'
    WHEN ${source} IN ${
    lower(EMAIL)
  } OR ${medium} LIKE '%email%' OR ${medium} LIKE '%e-mail%' OR ${medium} LIKE '%e_mail%' OR ${medium} = 'newsletter' OR ${utmSource} LIKE '%email%' OR ${utmSource} = 'newsletter' THEN 'Email'
    WHEN ${medium} = 'affiliate' THEN 'Affiliates'
    WHEN ${medium} = 'audio' THEN 'Audio'
    WHEN ${utmSource} = 'sms' OR ${medium} = 'sms' THEN 'SMS'
    WHEN ${medium} LIKE '%push' OR ${medium} LIKE '%mobile%' OR ${medium} LIKE '%notification%' THEN 'Mobile Push Notifications'
    WHEN ${v}.source IS NOT NULL OR ${medium} IN ('referral', 'app', 'link') THEN 'Referral'
    ELSE 'Direct'
  END`;
}

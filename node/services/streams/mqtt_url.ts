/**
 * The gateway's MQTT settings, checked once when the config loads: the broker URL
 * (`mqtt://user:pass@host:port`, `mqtts://…`, `ws(s)://…`) and the topic filter it reads. The
 * password never appears in a message or a log line: {@link redactMqttUrl} is what is shown.
 */

/** The topic filter read when none is configured. */
export const DEFAULT_MQTT_TOPIC = "kosmos/readings/#";

const PROTOCOLS = new Set(["mqtt:", "mqtts:", "ws:", "wss:"]);

/** The parts of a broker URL a client connects with. */
export interface MqttTarget {
  /** The URL without its credentials. */
  url: string;
  username?: string;
  password?: string;
}

/** Checks `value` is a broker URL; throws a `TypeError` naming the problem (never the password). */
export function parseMqttUrl(value: unknown): MqttTarget {
  if (typeof value !== "string" || value === "") {
    throw new TypeError("mqttUrl must be a broker URL such as mqtt://user:pass@broker.example:1883");
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError("mqttUrl is not a valid URL (expected mqtt://user:pass@host:port)");
  }
  if (!PROTOCOLS.has(url.protocol)) {
    throw new TypeError(`mqttUrl must start with mqtt://, mqtts://, ws:// or wss://, not ${url.protocol}//`);
  }
  if (!url.hostname) throw new TypeError("mqttUrl names no host (expected mqtt://user:pass@host:port)");
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.username = "";
  url.password = "";
  return { url: url.href.replace(/\/$/, ""), username, password };
}

/** The URL as it may be shown: without the password. */
export function redactMqttUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = "***";
    return url.href.replace(/\/$/, "");
  } catch {
    return "(invalid URL)";
  }
}

/** Checks an MQTT topic filter (`kosmos/readings/#`): 1–256 characters, wildcards only as whole levels. */
export function checkMqttTopic(value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 256 || value.includes("\0")) {
    throw new TypeError(
      "mqttTopic must be an MQTT topic filter of 1 to 256 characters, such as kosmos/readings/#",
    );
  }
  const levels = value.split("/");
  levels.forEach((level, i) => {
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      throw new TypeError(`mqttTopic "${value}": "#" may only be the whole last level`);
    }
    if (level.includes("+") && level !== "+") {
      throw new TypeError(`mqttTopic "${value}": "+" must be a whole level`);
    }
  });
  return value;
}

/**
 * Namespaced structured logging. One line per event on stderr:
 * `2026-11-21T10:00:00.000Z info kosmos:p2p started libp2p {"peerId":"12D3…"}`.
 * Messages start with a verb; values go in the metadata object. Never pass
 * keys, signatures or payload bytes.
 *
 * ```ts
 * const log = createLogger({ level: "info" }).forComponent("kosmos:p2p");
 * log.info("dialled peer", { peerId });
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface ComponentLogger {
  forComponent(name: string): Logger;
}

export interface LoggerInit {
  /** @default "info" */
  level?: LogLevel;
  /** Where lines go. @default writes to stderr */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

export function createLogger(init: LoggerInit = {}): ComponentLogger {
  const min = rank[init.level ?? "info"];
  const write = init.write ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  return {
    forComponent(name: string): Logger {
      const emit = (level: LogLevel) => (message: string, meta?: Record<string, unknown>) => {
        if (rank[level] < min) return;
        const tail = meta && Object.keys(meta).length > 0 ? " " + safeJson(meta) : "";
        write(`${new Date().toISOString()} ${level} ${name} ${message}${tail}`);
      };
      return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
    },
  };
}

function safeJson(meta: Record<string, unknown>): string {
  return JSON.stringify(meta, (_k, v) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Error) return { name: v.name, message: v.message };
    if (v instanceof Uint8Array) return `<${v.byteLength} bytes>`;
    return v;
  });
}

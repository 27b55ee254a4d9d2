/**
 * Provider scores kept by the fetcher: a provider that serves a block which
 * does not hash to its CID is banned for a while; failures and missing blocks
 * cost a little; served blocks earn a little back. Lower scores are tried last.
 */
import { minute } from "../../constants.ts";

export type Penalty = "corrupt" | "error" | "missing";

const COST: Record<Penalty, number> = { corrupt: 100, error: 10, missing: 1 };
const BAN_SCORE = -100;
const MAX_SCORE = 10;

export interface ProviderScoresInit {
  /** ms a provider stays banned after serving corrupt data. @default 10 minutes */
  banDuration?: number;
}

export class ProviderScores {
  readonly #scores = new Map<string, { score: number; bannedUntil: number }>();
  readonly #banDuration: number;

  constructor(init: ProviderScoresInit = {}) {
    this.#banDuration = init.banDuration ?? 10 * minute;
  }

  penalise(peerId: string, penalty: Penalty): void {
    const entry = this.#entry(peerId);
    entry.score -= COST[penalty];
    if (entry.score <= BAN_SCORE) entry.bannedUntil = Date.now() + this.#banDuration;
  }

  reward(peerId: string): void {
    const entry = this.#entry(peerId);
    entry.score = Math.min(MAX_SCORE, entry.score + 1);
  }

  /** 0 for an unknown peer; negative after penalties. */
  getScore(peerId: string): number {
    return this.#entry(peerId).score;
  }

  isBanned(peerId: string): boolean {
    return this.#entry(peerId).bannedUntil > Date.now();
  }

  #entry(peerId: string): { score: number; bannedUntil: number } {
    let entry = this.#scores.get(peerId);
    if (entry && entry.bannedUntil !== 0 && entry.bannedUntil <= Date.now()) {
      entry = undefined; // a served ban starts over from zero
    }
    if (!entry) {
      entry = { score: 0, bannedUntil: 0 };
      this.#scores.set(peerId, entry);
    }
    return entry;
  }
}

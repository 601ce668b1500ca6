// Requests and errors per second over the last hour, for the console's chart: one fixed ring of
// counters per second (two Uint32Arrays, 28 KiB), whatever the request rate. An error is a 5xx
// answer or a refusal (4xx).
const SPAN = 3600;

export class Traffic {
  readonly #requests = new Uint32Array(SPAN);
  readonly #errors = new Uint32Array(SPAN);
  /** The second the newest slot holds. */
  #second = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  observe(status: number): void {
    const slot = this.#advance();
    this.#requests[slot] = (this.#requests[slot] ?? 0) + 1;
    if (status >= 400) this.#errors[slot] = (this.#errors[slot] ?? 0) + 1;
  }

  /** Per-`step`-second totals over the last `seconds`, oldest first, as rates per second. */
  series(seconds = SPAN, step = 10): { start: number; step: number; requests: number[]; errors: number[] } {
    this.#advance();
    const n = Math.floor(Math.min(SPAN, seconds) / step);
    const end = this.#second + 1;
    const start = end - n * step;
    const requests: number[] = [];
    const errors: number[] = [];
    for (let b = 0; b < n; b++) {
      let r = 0;
      let e = 0;
      for (let s = start + b * step; s < start + (b + 1) * step; s++) {
        r += this.#requests[s % SPAN] ?? 0;
        e += this.#errors[s % SPAN] ?? 0;
      }
      requests.push(r / step);
      errors.push(e / step);
    }
    return { start, step, requests, errors };
  }

  /** Moves to the current second, clearing the slots of the seconds nobody called in. */
  #advance(): number {
    const now = Math.floor(this.#now() / 1000);
    if (now !== this.#second) {
      const gap = Math.min(SPAN, Math.max(0, now - this.#second));
      for (let i = 1; i <= gap; i++) {
        const slot = (this.#second + i) % SPAN;
        this.#requests[slot] = 0;
        this.#errors[slot] = 0;
      }
      this.#second = now;
    }
    return now % SPAN;
  }
}

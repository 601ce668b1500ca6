// What a user module may make the host do per unit of time, in one place beside the Ledger (which
// counts what these refuse): windows of a second or a minute (storage writes, command invocations,
// log bytes, net.fetch requests) and open slots (net.fetch sockets), per module and in all. The clock
// is injectable, so a test moves time instead of waiting for it.

/** A window's outcome: whether the amount fit, what the window holds now, and (once) how much the previous window refused. */
export interface Taken {
  ok: boolean;
  /** What the window has taken, this amount included when it fit (or requested, when it did not). */
  used: number;
  /** The window before this one refused this much (reported once, when the next window starts). */
  previousRefused?: { times: number; amount: number };
}

interface Window {
  start: number;
  used: number;
  refused: number;
  refusedAmount: number;
}

export class Budgets {
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();
  readonly #open = new Map<string, number>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Takes `amount` from `moduleId`'s `budget` window of `periodMs`; refused (nothing taken) past `max`. */
  take(moduleId: string, budget: string, amount: number, max: number, periodMs: number): Taken {
    const key = `${moduleId}\u0000${budget}`;
    const start = Math.floor(this.#now() / periodMs) * periodMs;
    let w = this.#windows.get(key);
    let previousRefused: Taken["previousRefused"];
    if (!w || w.start !== start) {
      if (w && w.refused > 0) previousRefused = { times: w.refused, amount: w.refusedAmount };
      this.#windows.set(key, (w = { start, used: 0, refused: 0, refusedAmount: 0 }));
    }
    const out: Taken = w.used + amount > max ? { ok: false, used: w.used + amount } : { ok: true, used: (w.used += amount) };
    if (!out.ok) {
      w.refused++;
      w.refusedAmount += amount;
    }
    if (previousRefused) out.previousRefused = previousRefused;
    return out;
  }

  /**
   * Opens one slot of `budget` for `moduleId`, within `perModule` for it and `total` for everyone;
   * the returned function closes it (once, however often it is called).
   */
  open(moduleId: string, budget: string, perModule: number, total: number): { ok: true; close: () => void } | { ok: false; full: "module" | "total"; open: number } {
    const mine = `${moduleId}\u0000${budget}`;
    const all = `\u0000${budget}`;
    const m = this.#open.get(mine) ?? 0;
    const t = this.#open.get(all) ?? 0;
    if (m >= perModule) return { ok: false, full: "module", open: m };
    if (t >= total) return { ok: false, full: "total", open: t };
    this.#open.set(mine, m + 1);
    this.#open.set(all, t + 1);
    let closed = false;
    return {
      ok: true,
      close: () => {
        if (closed) return;
        closed = true;
        this.#open.set(mine, (this.#open.get(mine) ?? 1) - 1);
        this.#open.set(all, (this.#open.get(all) ?? 1) - 1);
      },
    };
  }
}

// The per-module budgets (core/budgets.ts), on a clock the test moves: a window refuses past its
// maximum without taking, starts afresh with the next period and reports once what the last one
// refused; slots close once however often they are closed, and one module's never crowd another's.
import { describe, expect, it } from "vitest";
import { Budgets } from "../core/budgets.js";

describe("Budgets", () => {
  it("a window takes up to its maximum, refuses past it without taking, and starts afresh next period", () => {
    let now = 10_000;
    const b = new Budgets(() => now);
    expect(b.take("m", "log", 60, 100, 1000)).toEqual({ ok: true, used: 60 });
    expect(b.take("m", "log", 50, 100, 1000)).toEqual({ ok: false, used: 110 });
    expect(b.take("m", "log", 40, 100, 1000)).toEqual({ ok: true, used: 100 });
    expect(b.take("other", "log", 100, 100, 1000).ok).toBe(true); // its own window
    now += 999;
    expect(b.take("m", "log", 1, 100, 1000).ok).toBe(false); // still the same second
    now += 1;
    expect(b.take("m", "log", 1, 100, 1000)).toEqual({ ok: true, used: 1, previousRefused: { times: 2, amount: 51 } });
    expect(b.take("m", "log", 1, 100, 1000).previousRefused).toBeUndefined(); // reported once
  });

  it("minute windows run on minute boundaries of the same clock", () => {
    let now = 60_000 * 7 + 59_000;
    const b = new Budgets(() => now);
    expect(b.take("m", "net", 1, 1, 60_000).ok).toBe(true);
    expect(b.take("m", "net", 1, 1, 60_000).ok).toBe(false);
    now += 1000;
    expect(b.take("m", "net", 1, 1, 60_000).ok).toBe(true);
  });

  it("slots: per module and in all, each closed once however often its close is called", () => {
    const b = new Budgets();
    const a1 = b.open("a", "sock", 2, 3);
    const a2 = b.open("a", "sock", 2, 3);
    expect(b.open("a", "sock", 2, 3)).toEqual({ ok: false, full: "module", open: 2 });
    const c1 = b.open("c", "sock", 2, 3);
    expect(b.open("c", "sock", 2, 3)).toEqual({ ok: false, full: "total", open: 3 });
    if (!a1.ok || !a2.ok || !c1.ok) throw new Error("slots should have opened");
    a1.close();
    a1.close();
    expect(b.open("c", "sock", 2, 3).ok).toBe(true);
    expect(b.open("a", "sock", 2, 3)).toEqual({ ok: false, full: "total", open: 3 });
  });
});

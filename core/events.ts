// Host and module events. Delivery is asynchronous and isolated: a subscriber that throws or is
// slow never affects the emitter or other subscribers.
import { matchesPattern } from "./hostapi/patterns.js";

export type EventHandler = (payload: unknown, event: string) => void | Promise<void>;

interface Subscription {
  pattern: string;
  handler: EventHandler;
}

export class EventBus {
  readonly #subs = new Set<Subscription>();
  readonly #onError: (err: unknown, event: string) => void;

  constructor(onError: (err: unknown, event: string) => void) {
    this.#onError = onError;
  }

  subscribe(pattern: string, handler: EventHandler): () => void {
    const sub = { pattern, handler };
    this.#subs.add(sub);
    return () => this.#subs.delete(sub);
  }

  emit(event: string, payload: unknown): void {
    for (const sub of this.#subs) {
      if (!matchesPattern(sub.pattern, event)) continue;
      queueMicrotask(() => {
        try {
          const r = sub.handler(payload, event);
          if (r && typeof (r as Promise<void>).catch === "function") (r as Promise<void>).catch((e) => this.#onError(e, event));
        } catch (e) {
          this.#onError(e, event);
        }
      });
    }
  }
}

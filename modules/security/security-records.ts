// The one writer of security's durable keys in the module's own storage: each block (`b:<client>`)
// and the lockdown (`lockdown`), as ModuleRecords is for module records. Every write is a committed,
// fsynced transaction by the time it resolves, so an operator is told "done" only once it is
// durable; what is read back is checked for its shape (the store is not taken on trust), and what
// has ended is dropped from the store as it is read.
import type { StorageApi } from "../../sdk/context.js";

// A type, not an interface: it is JSON (JsonValue), stored as it is in the module's storage.
export type Decided = {
  until: number;
  reason: string;
  by: "operator" | "limits";
};

/** A stored record read back: a Decided only if it has that shape (the store is not taken on trust). */
export function asDecided(v: unknown): Decided | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const { until, reason, by } = v as Partial<Record<keyof Decided, unknown>>;
  if (typeof until !== "number" || typeof reason !== "string" || (by !== "operator" && by !== "limits")) return undefined;
  return { until, reason, by };
}

/** Where blocks and the lockdown are made durable. */
export interface DurableStore {
  /** Writes (undefined: removes) one record; resolves once it would survive kill -9. */
  write(key: string, value: Decided | undefined): Promise<void>;
}

/** Where each decision lives: the key layout, in one place. */
export const recordKey = {
  block: (client: string): string => `b:${client}`,
  lockdown: "lockdown",
  /** The client a block's key names, or undefined for any other key. */
  clientOf: (key: string): string | undefined => (key.startsWith("b:") ? key.slice(2) : undefined),
} as const;

const PREFIXES = ["b:", "lockdown"];
/** Read this many at a time: a fleet re-seeding Redis waits on this, and the store is a network away. */
const READ_BATCH = 64;

export class SecurityRecords implements DurableStore {
  readonly #storage: Pick<StorageApi, "get" | "set" | "delete" | "list">;
  readonly #now: () => number;

  constructor(storage: Pick<StorageApi, "get" | "set" | "delete" | "list">, now: () => number = Date.now) {
    this.#storage = storage;
    this.#now = now;
  }

  /** Writes one decision (undefined: removes it); resolves once it would survive kill -9. */
  async write(key: string, value: Decided | undefined): Promise<void> {
    if (value === undefined) await this.#storage.delete(key);
    else await this.#storage.set(key, value);
  }

  /** One decision as stored, if it has a decision's shape. */
  async read(key: string): Promise<Decided | undefined> {
    return asDecided(await this.#storage.get(key));
  }

  /** Every decision still in force; ended (or malformed) ones are removed from the store. */
  async records(): Promise<Array<[string, Decided]>> {
    const out: Array<[string, Decided]> = [];
    for (const prefix of PREFIXES) {
      const keys = await this.#storage.list(prefix, 100_000);
      for (let i = 0; i < keys.length; i += READ_BATCH) {
        await Promise.all(
          keys.slice(i, i + READ_BATCH).map(async (key) => {
            const value = await this.read(key);
            if (value && value.until > this.#now()) out.push([key, value]);
            else await this.#storage.delete(key);
          }),
        );
      }
    }
    return out;
  }
}

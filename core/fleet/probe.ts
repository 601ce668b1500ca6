// `warden status`: which backend holds each part of the host's state, and whether it answers.
// Passwords in URLs are never shown.
import { existsSync } from "node:fs";
import type { LogSink } from "../kernel.js";
import type { Store } from "../store/store.js";
import { redactUrl } from "../store/url.js";
import { chooseBackends, type BackendChoice } from "./backends.js";
import { redisBackend, type RedisBackend } from "./redis-backend.js";
import { homeLayout } from "../base/home.js";

export interface BackendStatus {
  store: { backend: "sqlite" | "postgres"; location: string; reachable: boolean; error?: string };
  redis: { location: string; reachable: boolean } | null;
  /** Where each part of the state lives. */
  parts: Record<"config" | "modules" | "storage" | "tokens" | "audit" | "security" | "cache", string>;
}

function parts(store: "sqlite" | "postgres", redis: boolean): BackendStatus["parts"] {
  const hot = redis ? "redis" : "memory";
  return { config: store, modules: store, storage: store, tokens: store, audit: store, security: hot, cache: hot };
}

/** A serving (or opened) host's own view: its store and Redis, each asked to answer now. */
export async function hostBackends(store: Store, redis: RedisBackend | undefined): Promise<BackendStatus> {
  let error: string | undefined;
  await store.ping().catch((e) => void (error = (e as Error).message));
  return {
    store: { backend: store.backend, location: store.location, reachable: error === undefined, ...(error ? { error } : {}) },
    redis: redis ? { location: redis.location, reachable: await redis.ping() } : null,
    parts: parts(store.backend, redis !== undefined),
  };
}

const quiet: LogSink = { debug() {}, info() {}, warn() {}, error() {} };

/** Without a serving host: the same answer from the flags, environment and home, opening nothing heavy. */
export async function probeBackends(home: string, given: BackendChoice): Promise<BackendStatus> {
  const choice = await chooseBackends(home, given);
  if (!choice.store) {
    const file = homeLayout(home).store;
    const redis = choice.redis ? redisBackend(choice.redis, quiet) : undefined;
    return {
      store: { backend: "sqlite", location: file, reachable: existsSync(file), ...(existsSync(file) ? {} : { error: "no system.brain yet; `warden init` creates it" }) },
      redis: redis ? { location: redis.location, reachable: await redis.ping() } : null,
      parts: parts("sqlite", redis !== undefined),
    };
  }
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: choice.store, connectionTimeoutMillis: 2000 });
  client.on("error", () => {}); // a dropped connection fails the query below; that is the answer
  let error: string | undefined;
  let redisUrl = choice.redis;
  try {
    await client.connect();
    if (!redisUrl) {
      const row = (await client.query<{ value: string }>("SELECT value FROM config WHERE key = 'fleet.redis'").catch(() => ({ rows: [] as Array<{ value: string }> }))).rows[0];
      const v = row ? (JSON.parse(row.value) as unknown) : undefined;
      if (typeof v === "string" && v !== "") redisUrl = v;
    }
  } catch (e) {
    error = String((e as Error)?.message ?? e);
  } finally {
    await client.end().catch(() => {});
  }
  const redis = redisUrl ? redisBackend(redisUrl, quiet) : undefined;
  return {
    store: { backend: "postgres", location: redactUrl(choice.store), reachable: error === undefined, ...(error ? { error } : {}) },
    redis: redis ? { location: redis.location, reachable: await redis.ping() } : null,
    parts: parts("postgres", redis !== undefined),
  };
}

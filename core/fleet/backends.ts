// Which backends a host uses: the store (embedded SQLite, or a fleet's PostgreSQL) and the hot
// security state and cache (this host's memory, or a fleet's Redis). The store URL comes from
// --store, else WARDEN_STORE_URL, else `fleet.store` in this home's own system.brain; the Redis URL
// from --redis, else WARDEN_REDIS_URL, else `fleet.redis` in the (possibly shared) config.
import { existsSync } from "node:fs";
import { HostError } from "../base/errors.js";
import { openSqliteStore } from "../store/sqlite-store.js";
import { redactUrl } from "../store/url.js";
import { homeLayout } from "../base/home.js";

export interface BackendChoice {
  /** undefined: this home's embedded system.brain. */
  store?: string;
  /** undefined: given nowhere yet (the shared config may still name one). */
  redis?: string;
}

const STORE_URL = /^postgres(ql)?:\/\//i;
const REDIS_URL = /^rediss?:\/\//i;

export function checkStoreUrl(url: string, from: string): string {
  if (!STORE_URL.test(url)) throw new HostError("usage", `${from} must be a PostgreSQL URL like postgres://user:password@host:5432/db (got ${redactUrl(url)})`);
  return url;
}

export function checkRedisUrl(url: string, from: string): string {
  if (!REDIS_URL.test(url)) throw new HostError("usage", `${from} must be a Redis URL like redis://:password@host:6379/0 (got ${redactUrl(url)})`);
  return url;
}

/** Flags first, then the environment, then this home's own system.brain (for the store). */
export async function chooseBackends(home: string, given: BackendChoice, env: NodeJS.ProcessEnv = process.env): Promise<BackendChoice> {
  const out: BackendChoice = {};
  const store = given.store ?? nonEmpty(env.WARDEN_STORE_URL);
  const redis = given.redis ?? nonEmpty(env.WARDEN_REDIS_URL);
  if (store !== undefined) out.store = checkStoreUrl(store, given.store !== undefined ? "--store" : "WARDEN_STORE_URL");
  else {
    const local = await localSetting(home, "fleet.store");
    if (local) out.store = checkStoreUrl(local, `fleet.store in ${homeLayout(home).store}`);
  }
  if (redis !== undefined) out.redis = checkRedisUrl(redis, given.redis !== undefined ? "--redis" : "WARDEN_REDIS_URL");
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

async function localSetting(home: string, key: string): Promise<string | undefined> {
  const file = homeLayout(home).store;
  if (!existsSync(file)) return undefined;
  const local = openSqliteStore(file);
  try {
    const v = await local.config.get(key);
    return typeof v === "string" && v !== "" ? v : undefined;
  } finally {
    await local.close();
  }
}

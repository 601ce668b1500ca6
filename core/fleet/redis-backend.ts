// A fleet's Redis, as the host offers it to system modules (the `backend:redis` service): each
// user (security, cache) opens its own connection with its own command timeout. Connections fail
// fast rather than queue: a command while Redis is unreachable is refused at once (the security
// module then refuses the request, 503 security_unavailable), and the connection keeps trying to
// come back by itself every 100-500 ms.
import { Redis } from "ioredis";
import type { LogSink } from "../kernel.js";
import { scrubString } from "../log/redact.js";
import { redactUrl } from "../store/url.js";
import type { RedisBackend } from "../../sdk/system/fleet.js";

export type { RedisBackend };

export function redisBackend(url: string, log: LogSink): RedisBackend {
  const location = redactUrl(url);
  const connect = (name: string, o: { timeoutMs: number }): Redis => {
    const client = new Redis(url, {
      connectionName: `warden-${name}`,
      commandTimeout: o.timeoutMs,
      connectTimeout: Math.max(1000, o.timeoutMs * 4),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt) => Math.min(100 * attempt, 500),
    });
    let down = false;
    client.on("error", (e: Error) => {
      // Once per outage, not once per reconnect attempt.
      if (!down) log.error({ redis: location, user: name, err: scrubString(e.message) }, "redis unreachable; requests that need it are refused until it is back");
      down = true;
    });
    client.on("ready", () => {
      if (down) log.info({ redis: location, user: name }, "redis reachable again");
      down = false;
    });
    return client;
  };
  return {
    location,
    connect,
    async ping(timeoutMs = 1000) {
      const client = new Redis(url, { lazyConnect: true, commandTimeout: timeoutMs, connectTimeout: timeoutMs, enableOfflineQueue: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on("error", () => {});
      try {
        await client.connect();
        return (await client.ping()) === "PONG";
      } catch {
        return false;
      } finally {
        client.disconnect();
      }
    },
  };
}

// The hand-built stack the API bench compares Warden with: Fastify with @fastify/helmet,
// @fastify/rate-limit (in memory, a limit the load never reaches) and a bearer-token check (the
// token's sha256 looked up in a set, as one would do without a token store).
import { createHash } from "node:crypto";
import Fastify from "fastify";
import helmet from "@fastify/helmet";
import rateLimit from "@fastify/rate-limit";

const TOKEN = process.argv[2] ?? "bench-token";
const known = new Set([createHash("sha256").update(TOKEN).digest("hex")]);
const app = Fastify({ logger: false });
await app.register(helmet);
await app.register(rateLimit, { max: 1_000_000_000, timeWindow: 60_000 });
app.addHook("onRequest", async (req, reply) => {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
  if (!m || !known.has(createHash("sha256").update(m[1]).digest("hex"))) return reply.code(401).send({ error: "unauthorized" });
});
app.post("/hello", async () => ({ message: "hello" }));
const address = await app.listen({ host: "127.0.0.1", port: 0 });
process.send?.({ address });

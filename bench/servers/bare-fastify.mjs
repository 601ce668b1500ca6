// Baseline server for the API bench: fastify's hello world, nothing else.
import Fastify from "fastify";
const app = Fastify({ logger: false });
app.post("/hello", async () => ({ message: "hello" }));
const address = await app.listen({ host: "127.0.0.1", port: 0 });
process.send?.({ address });

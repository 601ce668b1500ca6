// The OpenAPI 3.1 document, generated from the command catalogue (the manifests) for whoever asks
// with a token: every command's request (body required when its input requires anything; typed
// query parameters for read-only GETs), its output schema (or a note that it declares none), every
// error answer with the shared error schema and the headers that come with it, the meta routes,
// and the server's real URL.
import type { CommandInfo } from "../../sdk/context.js";

type Schema = Record<string, unknown>;

const ERROR_REF = { $ref: "#/components/schemas/Error" };
const header = (description: string, schema: Schema = { type: "string" }) => ({ description, schema });
const REQUEST_ID = { "X-Request-Id": { $ref: "#/components/headers/RequestId" } };

const errorSchema: Schema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", description: "a stable code from Warden's catalogue" },
        message: { type: "string" },
        reason: { type: "string" },
        retry_after: { type: "integer" },
        blocked_until: { type: "string", format: "date-time" },
        locked_until: { type: "string", format: "date-time" },
        details: {},
      },
    },
  },
};

const error = (description: string, headers: Record<string, unknown> = {}) => ({
  description,
  headers: { ...REQUEST_ID, ...headers },
  content: { "application/json": { schema: ERROR_REF } },
});

const limited = {
  "Retry-After": { $ref: "#/components/headers/RetryAfter" },
  RateLimit: { $ref: "#/components/headers/RateLimit" },
  "RateLimit-Policy": { $ref: "#/components/headers/RateLimitPolicy" },
};

/** The answers every authenticated route can give besides its own. */
const commonErrors = {
  "401": error("Missing, invalid, expired or revoked token", { "WWW-Authenticate": { $ref: "#/components/headers/WWWAuthenticate" } }),
  "403": error("The token's scopes do not cover this command, the bootstrap token, or a refused client"),
  "429": error("Rate limited, blocked, or token verification busy", limited),
  "500": error("Internal error (the message carries an error id the host logged)"),
  "503": error("Locked down, API disabled, module unavailable or security state unavailable", { "Retry-After": { $ref: "#/components/headers/RetryAfter" } }),
};

const commandErrors = {
  "400": error("Invalid input (details.problems names each failing path) or a malformed body"),
  ...commonErrors,
  "404": error("No such command (it was removed)"),
  "405": error("Wrong method for this command", { Allow: header("The methods this path answers to") }),
  "413": error("Body larger than api.body_limit"),
  "415": error("Not application/json"),
  "502": error("The module failed (module_error, memory_limit, module_crashed)"),
  "504": error("The module overran its time limit"),
  "507": error("A storage or cache quota would be exceeded"),
};

const ok = (schema: Schema, description: string) => ({ description, headers: REQUEST_ID, content: { "application/json": { schema } } });

/** A query parameter for each property a URL can carry (strings, numbers, booleans). */
function queryParameters(input: Schema): Array<Record<string, unknown>> {
  const props = (input.properties ?? {}) as Record<string, Schema>;
  const required = new Set((input.required as string[] | undefined) ?? []);
  return Object.entries(props)
    .filter(([, p]) => ["string", "number", "integer", "boolean"].includes(String(p.type)))
    .map(([name, p]) => ({ name, in: "query", required: required.has(name), schema: p, ...(typeof p.description === "string" ? { description: p.description } : {}) }));
}

const operationId = (c: CommandInfo, suffix = "") => `${c.module}_${c.name}${suffix}`.replace(/[^A-Za-z0-9_]/g, "_");

function commandPath(c: CommandInfo): Record<string, unknown> {
  const input = c.input as Schema;
  const requires = Array.isArray(input.required) && input.required.length > 0;
  const output = c.output ? ok(c.output as Schema, "The command's output") : ok({ description: "this command declares no output schema: any JSON value" }, "The command's output (no schema declared)");
  const base = { summary: c.description, tags: [c.module], "x-warden-permission": c.permission };
  const post = {
    ...base,
    operationId: operationId(c),
    requestBody: { required: requires, content: { "application/json": { schema: input } } },
    responses: { "200": output, ...commandErrors },
  };
  if (!c.readOnly) return { post };
  return { post, get: { ...base, operationId: operationId(c, "_get"), parameters: queryParameters(input), responses: { "200": output, ...commandErrors } } };
}

export function openApiDocument(commands: CommandInfo[], version: string, serverUrl: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const c of commands) paths[`/api/v1/${c.module}/${c.name}`] = commandPath(c);
  const open = (operationId: string, summary: string, schema: Schema) => ({ get: { operationId, summary, security: [], responses: { "200": ok(schema, summary) } } });
  return {
    openapi: "3.1.0",
    info: { title: "Warden REST API", version, description: "Every module command, generated from the module manifests. Authenticate with a token from `warden auth grant`." },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }, { apiKey: [] }],
    paths: {
      "/api/v1/": open("index", "What this API offers", { type: "object" }),
      "/api/v1/health": open("health", "Liveness", { type: "object", properties: { status: { type: "string" } } }),
      "/api/v1/health/live": open("health_live", "Liveness", { type: "object", properties: { status: { type: "string" } } }),
      "/api/v1/health/ready": {
        get: {
          operationId: "health_ready",
          summary: "Readiness",
          security: [],
          responses: { "200": ok({ type: "object", properties: { status: { type: "string" } } }, "Ready"), "503": error("Not ready") },
        },
      },
      "/api/v1/openapi.json": { get: { operationId: "openapi", summary: "This document", responses: { "200": ok({ type: "object" }, "OpenAPI 3.1 document"), ...commonErrors } } },
      "/api/v1/metrics": {
        get: {
          operationId: "metrics",
          summary: "Prometheus metrics (needs a token with metrics.read)",
          responses: { "200": { description: "Prometheus text exposition 0.0.4", headers: REQUEST_ID, content: { "text/plain": { schema: { type: "string" } } } }, ...commonErrors },
        },
      },
      ...paths,
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "A Warden API token (wdn_...)" },
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      },
      schemas: { Error: errorSchema },
      headers: {
        RequestId: header("The request's id (the client's own X-Request-Id when it sent a sane one)"),
        RetryAfter: header("Seconds to wait before trying again", { type: "integer" }),
        RateLimit: header("limit, remaining and reset (seconds) of the client's window"),
        RateLimitPolicy: header("The client's limit per 60 s window"),
        WWWAuthenticate: header('Bearer realm="warden"'),
      },
    },
  };
}

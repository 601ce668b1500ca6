// The OpenAPI 3.1 document, generated from the command catalogue (the manifests).
import type { CommandInfo } from "../../sdk/context.js";

const errorSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string" },
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

const errorResponses = Object.fromEntries(
  [["400", "Invalid input or malformed body"], ["401", "Missing, invalid, expired or revoked token"], ["403", "Forbidden"], ["404", "Unknown command"],
   ["413", "Body too large"], ["415", "Wrong content type"], ["429", "Rate limited or blocked"], ["500", "Internal error"], ["502", "Module failed"],
   ["503", "Locked down, API disabled or security unavailable"], ["504", "Module timed out"]].map(([code, description]) => [
    code, { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  ]),
);

export function openApiDocument(commands: CommandInfo[], version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const c of commands) {
    const op = (method: "post" | "get") => ({
      operationId: `${c.module}.${c.name}${method === "get" ? ".get" : ""}`,
      summary: c.description,
      tags: [c.module],
      "x-warden-permission": c.permission,
      ...(method === "post"
        ? { requestBody: { required: false, content: { "application/json": { schema: c.input } } } }
        : { parameters: Object.keys((c.input as any).properties ?? {}).map((name) => ({ name, in: "query", required: false, schema: { type: "string" } })) }),
      responses: {
        "200": { description: "The command's output", content: { "application/json": { schema: c.output ?? {} } } },
        ...errorResponses,
      },
    });
    paths[`/api/v1/${c.module}/${c.name}`] = c.readOnly ? { post: op("post"), get: op("get") } : { post: op("post") };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Warden REST API", version, description: "Every module command, generated from the module manifests." },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }, { apiKey: [] }],
    paths: {
      "/api/v1/health": { get: { operationId: "health", summary: "Liveness", security: [], responses: { "200": { description: "ok", content: { "application/json": { schema: { type: "object", properties: { status: { type: "string" } } } } } } } } },
      "/api/v1/openapi.json": { get: { operationId: "openapi", summary: "This document", responses: { "200": { description: "OpenAPI 3.1 document" } } } },
      ...paths,
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "A Warden API token (wdn_...)" },
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      },
      schemas: { Error: errorSchema },
    },
  };
}

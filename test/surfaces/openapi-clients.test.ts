// The OpenAPI document as clients nobody here wrote read it: @readme/openapi-parser validates it,
// openapi-typescript generates types from it, and with openapi-fetch a correct call type-checks
// while a wrong one (missing required body, wrong field type, untyped query) is a compile error.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "@readme/openapi-parser";
import openapiTS, { astToString } from "openapi-typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { raw, serveHost, type ServingHost } from "../helpers/api.js";

let s: ServingHost;
let doc: Record<string, any>;
beforeAll(async () => {
  s = await serveHost();
  const { token } = await s.grant("docs", ["*"]);
  doc = (await raw(s.base, { path: "/api/v1/openapi.json", headers: { authorization: `Bearer ${token}` } })).json;
}, 60_000);
afterAll(async () => s?.close());

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 for @readme/openapi-parser", async () => {
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid, JSON.stringify(result)).toBe(true);
  });

  it("is complete: required bodies, typed query parameters, output schemas, errors with their headers, meta routes, a real server", () => {
    expect(doc.servers[0].url).toBe(s.base.origin);
    const greet = doc.paths["/api/v1/hello/greet"];
    expect(greet.post.requestBody.required).toBe(true);
    expect(greet.post.responses["200"].content["application/json"].schema).toMatchObject({ required: ["message"] });
    expect(greet.get.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "name", in: "query", required: true, schema: expect.objectContaining({ type: "string" }) }),
        expect.objectContaining({ name: "excited", in: "query", required: false, schema: expect.objectContaining({ type: "boolean" }) }),
      ]),
    );
    for (const status of ["400", "401", "403", "405", "429", "503", "507"]) expect(greet.post.responses[status], status).toBeDefined();
    expect(Object.keys(greet.post.responses["429"].headers)).toEqual(expect.arrayContaining(["Retry-After", "RateLimit", "RateLimit-Policy"]));
    expect(Object.keys(greet.post.responses["401"].headers)).toContain("WWW-Authenticate");
    for (const p of ["/api/v1/metrics", "/api/v1/health/live", "/api/v1/health/ready", "/api/v1/"]) expect(doc.paths[p], p).toBeDefined();
    const ids = Object.values(doc.paths).flatMap((item: any) => Object.values(item).map((op: any) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("generates types with openapi-typescript under which a wrong call does not compile", async () => {
    const types = astToString(await openapiTS(structuredClone(doc) as never));
    // Under the repository, so that tsc resolves openapi-fetch from its node_modules.
    const base = join(__dirname, "../../node_modules/.cache/warden");
    mkdirSync(base, { recursive: true });
    const dir = mkdtempSync(join(base, "openapi-client-"));
    writeFileSync(join(dir, "api.d.ts"), types);
    writeFileSync(
      join(dir, "client.ts"),
      `import createClient from "openapi-fetch";
import type { paths } from "./api.js";
const client = createClient<paths>({ baseUrl: "${s.base.origin}" });
export async function calls() {
  const ok = await client.POST("/api/v1/hello/greet", { body: { name: "Ada", excited: true } });
  const message: string | undefined = ok.data?.message;
  await client.GET("/api/v1/hello/greet", { params: { query: { name: "Ada", excited: true } } });
  // @ts-expect-error the body is required (name is)
  await client.POST("/api/v1/hello/greet", {});
  // @ts-expect-error name must be a string
  await client.POST("/api/v1/hello/greet", { body: { name: 5 } });
  // @ts-expect-error excited is a boolean, not a string
  await client.GET("/api/v1/hello/greet", { params: { query: { name: "Ada", excited: "yes" } } });
  // @ts-expect-error no such command
  await client.POST("/api/v1/hello/nothing", { body: {} });
  return message;
}
`,
    );
    const tsc = spawnSync(
      process.execPath,
      [
        join(__dirname, "../../node_modules/typescript/bin/tsc"),
        "--noEmit",
        "--strict",
        "--target",
        "es2022",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--skipLibCheck",
        join(dir, "client.ts"),
      ],
      { encoding: "utf8" },
    );
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  }, 120_000);
});

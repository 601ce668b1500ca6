// Validates a document against the official OpenAPI 3.1 JSON Schema.
import { Validator } from "@seriousme/openapi-schema-validator";

export async function validateOpenApi31(doc: unknown): Promise<unknown[]> {
  const validator = new Validator();
  const res = await validator.validate(structuredClone(doc) as any);
  if (validator.version !== "3.1") return [`expected OpenAPI 3.1, got ${validator.version}`];
  return res.valid ? [] : ((res.errors as unknown[]) ?? ["invalid"]);
}

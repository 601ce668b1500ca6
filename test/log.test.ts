import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../core/log/index.js";
import { tempDir } from "./helpers/modules.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      cb();
    },
  });
  return { lines, stream };
}

describe("logger", () => {
  it("writes JSON lines and redacts secrets by field at any depth", () => {
    const { lines, stream } = capture();
    const log = createLogger({ destination: stream });
    log.info({ headers: { authorization: "Bearer abc", "x-api-key": "k1", cookie: "c=1" }, user: { password: "pw", profile: { secret: "s" } }, token: "t" }, "request");
    const entry = JSON.parse(lines[0]!);
    expect(entry.msg).toBe("request");
    expect(entry.headers).toEqual({ authorization: "[redacted]", "x-api-key": "[redacted]", cookie: "[redacted]" });
    expect(entry.user).toEqual({ password: "[redacted]", profile: { secret: "[redacted]" } });
    expect(entry.token).toBe("[redacted]");
  });

  it("scrubs anything shaped like a Warden token from messages and string fields", () => {
    const { lines, stream } = capture();
    const log = createLogger({ destination: stream });
    const token = "wdn_" + "Zx9".repeat(17);
    log.warn({ note: `got ${token} from client` }, `verify failed for ${token}`);
    expect(lines.join("\n")).not.toContain(token);
    expect(lines.join("\n")).toContain("wdn_[redacted]");
  });

  it("sends security-tagged events to <home>/logs/security.log as well", () => {
    const home = tempDir();
    const { lines, stream } = capture();
    const log = createLogger({ home, destination: stream });
    log.info({ security: true, client: "1.2.3.4" }, "client blocked");
    log.info({ plain: true }, "module active");
    const sec = readFileSync(join(home, "logs", "security.log"), "utf8");
    expect(sec).toContain("client blocked");
    expect(sec).not.toContain("module active");
    expect(lines).toHaveLength(2);
    expect(existsSync(join(home, "logs", "security.log"))).toBe(true);
  });
});

import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openSqliteStore } from "../core/store/sqlite-store.js";
import { tempDir } from "./helpers/modules.js";

describe("system.brain", () => {
  it("keeps every acknowledged write when the writing process is killed mid-stream", async () => {
    const file = join(tempDir(), "system.brain");
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "fixtures/store/writer.mts"), file], { stdio: ["ignore", "pipe", "inherit"] });
    let lastAck = -1;
    let buffer = "";
    await new Promise<void>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", () => resolve());
      child.stdout.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const line of lines) {
          const m = /^ack (\d+)$/.exec(line);
          if (m) lastAck = Number(m[1]);
        }
        if (lastAck >= 300 && !child.killed) child.kill("SIGKILL");
      });
    });
    expect(lastAck).toBeGreaterThanOrEqual(300);
    const store = openSqliteStore(file);
    try {
      for (let i = 0; i <= lastAck; i++) {
        expect(await store.storage.get("writer", `k${i}`), `acknowledged write k${i} lost`).toBeDefined();
      }
      expect(await store.storage.usage("writer")).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it("migrates a fresh file and reopens an existing one", async () => {
    const file = join(tempDir(), "system.brain");
    const a = openSqliteStore(file);
    await a.config.set("x.y", 1);
    await a.close();
    const b = openSqliteStore(file);
    expect(await b.config.get("x.y")).toBe(1);
    await b.close();
  });

  it("lists keys by exact prefix, without wildcard surprises", async () => {
    const s = openSqliteStore(join(tempDir(), "system.brain"));
    for (const k of ["a%b", "a_b", "ab", "a%c", "b"]) await s.storage.set("m", k, "1", 1e6);
    expect(await s.storage.list("m", "a%", 100)).toEqual(["a%b", "a%c"]);
    expect(await s.storage.list("m", "a_", 100)).toEqual(["a_b"]);
    await s.close();
  });
});

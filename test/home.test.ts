// A home must be the running user's own directory: one planted by someone else (or a link to one)
// is refused before anything is read or written in it; dev and learn never use a shared /tmp path.
import { chownSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Host } from "../core/host.js";
import { freshStateHome, userStateHome } from "../core/base/home.js";
import { tempDir } from "./helpers/modules.js";
import { testHost } from "./helpers/host.js";

describe("the home", () => {
  it("refuses a home that is a symbolic link", async () => {
    const root = tempDir();
    mkdirSync(join(root, "real"));
    symlinkSync(join(root, "real"), join(root, "link"));
    await expect(testHost({ realLog: true, home: join(root, "link") })).rejects.toMatchObject({ code: "usage", message: expect.stringContaining("not a directory") });
  });

  it.runIf(process.getuid?.() === 0)("refuses a home owned by another user", async () => {
    const home = tempDir();
    chownSync(home, 65534, 65534);
    await expect(testHost({ realLog: true, home })).rejects.toMatchObject({ code: "usage", message: expect.stringContaining("belongs to uid 65534") });
  });

  it("gives dev and learn sessions private homes under the user's state directory", () => {
    const state = tempDir();
    const before = process.env.XDG_STATE_HOME;
    process.env.XDG_STATE_HOME = state;
    try {
      expect(userStateHome("dev", "greeter")).toBe(join(state, "warden", "dev", "greeter"));
      const a = freshStateHome("learn");
      const b = freshStateHome("learn");
      expect(a).not.toBe(b);
      expect(a.startsWith(join(state, "warden", "learn"))).toBe(true);
    } finally {
      if (before === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = before;
    }
  });
});

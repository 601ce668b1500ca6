// Debian's chromium driven by playwright-core (never a downloaded browser). Found or installed by
// ensureTool; the suite is skipped with a loud line only where neither is possible, never in CI.
import { chromium, type Browser } from "playwright-core";
import { ensureTool } from "./tools.js";

export async function launchChromium(): Promise<Browser | undefined> {
  const path = ensureTool("chromium", "chromium");
  if (!path) return undefined;
  // --no-sandbox: chromium's own sandbox cannot start as root in these containers.
  return chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
}

// Which settings types are generated, and where: the host's, and each system module's that
// declares a `config` (written beside its module.json).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hostSettingsSource, moduleSettingsSource, type SettingSchema } from "../config/settings-types.js";
import { ROOT, SYSTEM_MODULES_DIR } from "../base/paths.js";

export function generatedSettingsFiles(): Array<[string, string]> {
  const out: Array<[string, string]> = [[join(ROOT, "core", "config", "host-settings.ts"), hostSettingsSource()]];
  for (const d of readdirSync(SYSTEM_MODULES_DIR, { withFileTypes: true })) {
    const file = join(SYSTEM_MODULES_DIR, d.name, "module.json");
    if (!d.isDirectory() || !existsSync(file)) continue;
    const m = JSON.parse(readFileSync(file, "utf8")) as { id: string; config?: SettingSchema };
    if (m.config) out.push([join(SYSTEM_MODULES_DIR, d.name, "settings.ts"), moduleSettingsSource(m.id, m.config, "../../sdk/context.js")]);
  }
  return out;
}

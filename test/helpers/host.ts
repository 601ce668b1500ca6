// Opens a Host on a fresh home with only the given module folders, for kernel tests.
import { Host, type HostOptions } from "../../core/host.js";
import { silentLogger } from "../../core/log/index.js";
import { tempDir } from "./modules.js";

export async function openTestHost(options: Partial<HostOptions> & { modulePaths: string[] }): Promise<Host> {
  return Host.open({
    home: options.home ?? tempDir("warden-home-"),
    systemDir: options.systemDir ?? tempDir("warden-nosys-"),
    userRuntime: options.userRuntime ?? "inprocess",
    logger: options.logger ?? silentLogger(),
    ...options,
  });
}

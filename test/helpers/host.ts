// The one way tests build a host: a fresh home, the given module folders, and the runtime and log
// the test asks for. (Module authors' harness, createTestHost, is built on the same Host.open.)
import { Host, type HostOptions } from "../../core/host.js";
import { silentLogger } from "../../core/log/index.js";
import { tempDir } from "./modules.js";

export interface TestHostOptions extends Partial<HostOptions> {
  /** User modules run in-process (default: in the real sandbox). */
  inProcess?: boolean;
  /** Without the system modules: a kernel test. */
  kernelOnly?: boolean;
  /** The host writes its own log files in the home (default: a silent logger). */
  realLog?: boolean;
}

export async function testHost(o: TestHostOptions = {}): Promise<Host> {
  const { inProcess, kernelOnly, realLog, ...rest } = o;
  return Host.open({
    home: tempDir("warden-home-"),
    modulePaths: [],
    ...(realLog ? {} : { logger: silentLogger() }),
    ...(kernelOnly ? { systemDir: tempDir("warden-nosys-") } : {}),
    ...(inProcess ? { userRuntime: "inprocess" as const } : {}),
    ...rest,
  });
}

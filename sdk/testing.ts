// `@warden/sdk/testing`: a module author's test harness. It loads the module folder in a real
// Warden host (the real sandbox for user modules), calls its commands and records every capability
// call, so a test can assert "greet never writes storage". Ungranted calls fail exactly as in
// production. The harness is the host's own (`@warden/host/testing`): `warden module test` points
// this import at the host that runs the tests, so what a test proves is what that host does.
import { WardenError } from "./errors.js";
import type { CapabilityRequest } from "./manifest.js";

export interface RecordedCapabilityCall {
  method: string;
  capability: string;
  allowed: boolean;
}

/** A request the module made with ctx.net.fetch, after the host's checks passed (allowed host, method, size). */
export interface FakeFetchRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** What a fake `fetch` answers; `headers` and `body` default to none and "". */
export interface FakeFetchResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface TestHostOptions {
  /** The module folder (a path or a file: URL such as `new URL(".", import.meta.url)`). */
  module: string | URL;
  /** Grant only these (a subset of the manifest's); default: everything it declares, approved. */
  grants?: CapabilityRequest[];
  /** Settings of the module, by key without the module prefix (`{ greeting: "hi" }`). */
  config?: Record<string, unknown>;
  /** The module's secrets, by name, as an operator would set them (`warden secrets set`). */
  secrets?: Record<string, string>;
  /**
   * Answers the module's ctx.net.fetch calls instead of the network (no port, no DNS). The host's
   * checks still run first: a host the grant does not list is refused before this is asked.
   */
  fetch?: (request: FakeFetchRequest) => FakeFetchResponse | Promise<FakeFetchResponse>;
  /** Run in-process instead of the sandbox (faster, for logic-only tests). Default false. */
  inProcess?: boolean;
}

/** The host's clock as the test sees it: the per-minute and per-second budgets run on it. */
export interface TestClock {
  /** Milliseconds since the epoch, as the host sees them. */
  now(): number;
  /** Moves the host's time forward (a budget's window that has passed is over). */
  advance(ms: number): void;
}

export interface TestHost {
  readonly id: string;
  /** Calls `<id>.<command>` as the local operator; resolves to its output or rejects with its error. */
  call<O = unknown>(command: string, input?: Record<string, unknown>): Promise<O>;
  /** Every capability call the module made, in order. */
  readonly capabilityCalls: RecordedCapabilityCall[];
  /** Capabilities the module used (allowed calls), without repeats. */
  used(): string[];
  /** Forget the recorded calls (e.g. after setup). */
  resetRecording(): void;
  /** The module's ctx.log lines, in order. */
  readonly logs: Array<{ level: string; message: string }>;
  /** Requests the fake `fetch` answered, in order. */
  readonly fetches: FakeFetchRequest[];
  readonly clock: TestClock;
  /** Sets (or replaces) one of the module's secrets. */
  setSecret(name: string, value: string): Promise<void>;
  close(): Promise<void>;
}

/** The host's implementation, which `@warden/host/testing` exports. */
export type CreateTestHost = (options: TestHostOptions) => Promise<TestHost>;

export async function createTestHost(options: TestHostOptions): Promise<TestHost> {
  // Reached only when the tests run outside `warden module test` (which resolves this import to
  // the host's harness): then the host must be installed beside the module.
  const host = "@warden/host/testing";
  let impl: { createTestHost: CreateTestHost };
  try {
    impl = (await import(host)) as { createTestHost: CreateTestHost };
  } catch {
    throw new WardenError("usage", "@warden/sdk/testing needs a Warden host: run the tests with `warden module test`, or install the host beside the module (npm install -D @warden/host)");
  }
  return impl.createTestHost(options);
}

// ctx.config.watch for in-process modules (the sandbox prelude has the same steps in its own
// JavaScript): apply the settings now, and again after each change, one apply at a time.
import { HostError } from "../base/errors.js";

export async function watchSettings(apply: (settings: unknown) => unknown, read: () => Promise<unknown>, watch: (changed: () => void) => Promise<() => void>): Promise<() => void> {
  if (typeof apply !== "function") throw new HostError("input_invalid", "config.watch: the argument must be a function that applies the settings");
  let stopped = false;
  let queue: Promise<unknown> = Promise.resolve();
  const again = (): Promise<unknown> => {
    const next = queue.then(async () => (stopped ? undefined : apply(await read())));
    // A failing apply is the module's own; later changes still apply.
    queue = next.catch(() => undefined);
    return next;
  };
  const unwatch = await watch(() => void again());
  try {
    await again();
  } catch (e) {
    unwatch();
    throw e;
  }
  return () => {
    stopped = true;
    unwatch();
  };
}

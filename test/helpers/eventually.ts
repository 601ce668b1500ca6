// The one way tests wait: for something another process, host or timer will make true. Bounded by
// attempts, never a race between a limit and a wall-clock timeout.
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, attempts = 100): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never happened: ${what}`);
}

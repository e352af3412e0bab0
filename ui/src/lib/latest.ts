/**
 * Latest-answer-wins for async loads (search-as-you-type, product grids).
 *
 * Every call gets a sequence number; when its answer arrives it is applied
 * only if no later call was made meanwhile. A slow, stale answer (say the
 * unfiltered list, 300 ms with a big catalog) can then never overwrite the
 * answer to the request the user made after it.
 */
export interface Latest<A extends unknown[], R> {
  /** Runs the loader; resolves to `{ fresh: true, value }` only for the latest call. */
  (...args: A): Promise<{ fresh: true; value: R } | { fresh: false }>;
  /** Makes every answer still in flight stale (e.g. when the screen is reset). */
  invalidate(): void;
}

export function latest<A extends unknown[], R>(load: (...args: A) => Promise<R>): Latest<A, R> {
  let seq = 0;
  const run = (async (...args: A) => {
    const mine = ++seq;
    const value = await load(...args);
    return mine === seq ? { fresh: true as const, value } : { fresh: false as const };
  }) as Latest<A, R>;
  run.invalidate = () => { seq++; };
  return run;
}

import { describe, expect, it } from 'vitest';
import { latest } from './latest';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('latest', () => {
  it('drops a slow earlier answer that arrives after the latest one', async () => {
    const pending = new Map<string, ReturnType<typeof deferred<string[]>>>();
    const load = latest((q: string) => {
      const d = deferred<string[]>();
      pending.set(q, d);
      return d.promise;
    });
    const applied: string[][] = [];
    const apply = (r: { fresh: true; value: string[] } | { fresh: false }) => { if (r.fresh) applied.push(r.value); };
    const all = load('').then(apply);
    const milk = load('milk').then(apply);
    pending.get('milk')!.resolve(['Milk 500ml']);
    await milk;
    pending.get('')!.resolve(['Apple', 'Bread', 'Milk 500ml']);
    await all;
    expect(applied).toEqual([['Milk 500ml']]);
  });

  it('applies the answer when it is the latest call', async () => {
    const load = latest(async (n: number) => n * 2);
    expect(await load(21)).toEqual({ fresh: true, value: 42 });
  });

  it('applies answers in order when each arrives before the next call', async () => {
    const load = latest(async (n: number) => n);
    expect(await load(1)).toEqual({ fresh: true, value: 1 });
    expect(await load(2)).toEqual({ fresh: true, value: 2 });
  });

  it('invalidate makes in-flight answers stale', async () => {
    const d = deferred<number>();
    const load = latest(() => d.promise);
    const p = load();
    load.invalidate();
    d.resolve(7);
    expect(await p).toEqual({ fresh: false });
  });

  it('passes errors through to the caller', async () => {
    const load = latest(async () => { throw new Error('boom'); });
    await expect(load()).rejects.toThrow('boom');
  });
});

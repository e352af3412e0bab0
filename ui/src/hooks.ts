import { useCallback, useState } from 'preact/hooks';
import { isSessionError, toCommandError } from './api';
import { useApp } from './context';

/**
 * `run(async () => …)`: marks the screen busy, shows a rejection's message
 * in the error banner (session errors go to the PIN screen instead), and
 * resolves to the result or `undefined` on error. Forms keep their state,
 * since nothing is reset on error.
 */
export function useRun(): [boolean, <R>(f: () => Promise<R>) => Promise<R | undefined>] {
  const { showError } = useApp();
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async <R,>(f: () => Promise<R>): Promise<R | undefined> => {
      setBusy(true);
      try {
        return await f();
      } catch (raw) {
        const e = toCommandError(raw);
        if (!isSessionError(e)) showError(e);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [showError],
  );
  return [busy, run];
}

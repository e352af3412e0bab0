/**
 * The Full Cloud Synchronization progress bar. The backend's
 * `full-sync-progress` events go through the phases `preview`, `upload`,
 * `finish`, `push` (the closing push + pull) and `done`, each with
 * `done` of `total` steps (`entity` is always null). The bar shows the
 * whole run, each phase filling its own share of it.
 */
import type { FullSyncProgressView } from '../types';

/** Where each phase starts and ends on a 0–100 bar. */
const SPAN: Record<string, [number, number, string]> = {
  preview: [0, 10, 'Comparing this till with the Back Office'],
  upload: [10, 80, 'Uploading this till’s records'],
  finish: [80, 90, 'Finishing on the Back Office'],
  push: [90, 99, 'Sending and fetching the latest changes'],
  done: [100, 100, 'Done'],
};

export interface ProgressDisplay {
  phase: string;
  /** A sentence for the user. */
  label: string;
  /** 0–100; null when unknown (an indeterminate bar). */
  percent: number | null;
}

export function fullSyncProgress(p: FullSyncProgressView | null): ProgressDisplay {
  if (!p) return { phase: 'starting', label: 'Starting…', percent: 0 };
  const span = SPAN[p.phase];
  const steps = p.total > 0 ? ` (${Math.min(p.done, p.total)} of ${p.total})` : '';
  if (!span) return { phase: p.phase, label: `${p.phase}${p.entity ? ` · ${p.entity}` : ''}${steps}`, percent: null };
  const [from, to, text] = span;
  const frac = p.total > 0 ? Math.min(1, Math.max(0, p.done / p.total)) : p.phase === 'done' ? 1 : 0;
  return {
    phase: p.phase,
    label: p.phase === 'done' ? text : `${text}${p.entity ? ` · ${p.entity}` : ''}${steps}…`,
    percent: Math.round(from + (to - from) * frac),
  };
}

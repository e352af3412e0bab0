/**
 * The header's small sync indicator, derived from the backend's sync status
 * (the `sync-status` event or `syncStatus`'s answer).
 */

export type IndicatorState = 'synced' | 'pending' | 'unreachable' | 'syncing' | 'not_configured';

/** The part of `SyncStatusView` the indicator reads. */
export interface SyncStatusLike {
  state: 'not_configured' | 'connecting' | 'syncing' | 'online' | 'unreachable';
  pending: number;
  quarantined: readonly unknown[];
}

export interface Indicator {
  state: IndicatorState;
  pending: number;
  label: string;
  /** Longer text for a tooltip. */
  detail: string;
}

export function deriveIndicator(s: SyncStatusLike | null | undefined): Indicator {
  if (!s) return { state: 'not_configured', pending: 0, label: 'Not connected', detail: 'Sync status unknown.' };
  const pending = Math.max(0, s.pending);
  const q = s.quarantined.length;
  const held = q > 0 ? ` ${q} need attention on the Sync page.` : '';
  const waiting = pending === 1 ? '1 change waiting to upload.' : `${pending} changes waiting to upload.`;
  switch (s.state) {
    case 'not_configured':
      return { state: 'not_configured', pending, label: 'Not connected', detail: `No Back Office set up; the till works offline.${pending ? ' ' + waiting : ''}` };
    case 'unreachable':
      return { state: 'unreachable', pending, label: 'Unreachable', detail: `The Back Office cannot be reached. ${waiting}${held}` };
    case 'syncing':
    case 'connecting':
      return { state: 'syncing', pending, label: 'Syncing…', detail: `${waiting}${held}` };
    case 'online':
      if (pending > 0) return { state: 'pending', pending, label: `Pending ${pending}`, detail: `${waiting}${held}` };
      return { state: 'synced', pending: 0, label: q > 0 ? `Synced · ${q} held` : 'Synced', detail: `Everything is uploaded.${held}` };
  }
}

/** What a Push Pending Data or Pull Updates press achieved, for a toast. */
export interface RoundOutcome {
  ok: boolean;
  text: string;
}

/**
 * Judges a manual round from the status it returned: the round failed when
 * an error was recorded after it started (`startedAt`, ms since the epoch)
 * or the Back Office is out of reach.
 */
export function roundOutcome(
  kind: 'push' | 'pull',
  s: SyncStatusLike & { lastError: string | null; lastErrorAt: string | null },
  startedAt: number,
): RoundOutcome {
  const erredNow = s.lastErrorAt !== null && Date.parse(s.lastErrorAt) >= startedAt;
  if (s.state === 'not_configured') {
    return { ok: false, text: 'No Back Office is set up yet: an owner enters it in Settings.' };
  }
  if (s.state === 'unreachable' || erredNow) {
    const why = s.lastError ?? 'the Back Office cannot be reached';
    return { ok: false, text: `${kind === 'push' ? 'Push' : 'Pull'} failed: ${why}` };
  }
  if (kind === 'pull') return { ok: true, text: 'Pulled: this till is up to date.' };
  if (s.pending === 0) return { ok: true, text: 'Pushed: everything is uploaded.' };
  return { ok: true, text: `Pushed; ${s.pending} still waiting.` };
}

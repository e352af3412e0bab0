/** Display helpers for dates and times (RFC 3339 from the backend). */

export function formatDateTime(rfc3339: string | null | undefined): string {
  if (!rfc3339) return '—';
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return d.toLocaleString('en-GB', { day: '2-digit', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** With seconds: for sync times, where a change within a minute matters. */
export function formatDateTimeSeconds(rfc3339: string | null | undefined): string {
  if (!rfc3339) return '—';
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return d.toLocaleString('en-GB', { day: '2-digit', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function formatTime(rfc3339: string | null | undefined): string {
  if (!rfc3339) return '—';
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
}

/**
 * The clock difference in words. `ms` is this till's clock minus the
 * Back Office's (positive: the till is ahead), as `ConnectionTest` and
 * `SyncStatusView` report it.
 */
export function formatSkew(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const abs = Math.abs(Math.round(ms));
  if (abs < 1000) return `in step with the Back Office (${abs} ms)`;
  const text = abs < 60_000 ? `${(abs / 1000).toFixed(1)} s` : abs < 3_600_000 ? `${(abs / 60_000).toFixed(1)} min` : `${(abs / 3_600_000).toFixed(1)} h`;
  return `this till is ${text} ${ms > 0 ? 'ahead of' : 'behind'} the Back Office`;
}

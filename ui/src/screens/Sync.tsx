/**
 * Sync Status: state, pending and quarantined ops, last push/pull/error,
 * clock skew; Push, Pull, and Full Cloud Synchronization (preview → confirm
 * → progress → report).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, events } from '../api';
import { Dialog } from '../components/Dialog';
import { useConfirm } from '../components/Confirm';
import { PageHead } from '../components/ui';
import { useApp } from '../context';
import { roundOutcome } from '../lib/syncIndicator';
import { useRun } from '../hooks';
import { formatDateTime, formatDateTimeSeconds, formatSkew } from '../lib/format';
import { fullSyncProgress } from '../lib/fullSync';
import type { FullSyncPreviewView, FullSyncProgressView, FullSyncReportView } from '../types';

const STATE_LABEL: Record<string, string> = {
  online: 'Online',
  unreachable: 'Unreachable',
  syncing: 'Syncing',
  connecting: 'Connecting',
  not_configured: 'Not configured',
};

const capitalize = (t: string) => t.charAt(0).toUpperCase() + t.slice(1);

type FullStep =
  | { step: 'closed' }
  | { step: 'previewing' }
  | { step: 'preview'; preview: FullSyncPreviewView; removeServerOnly: boolean }
  | { step: 'running'; progress: FullSyncProgressView | null }
  | { step: 'done'; report: FullSyncReportView };

export function SyncPage() {
  const { sync, setSync, session, notify, showError } = useApp();
  const [busy, run] = useRun();
  const [full, setFull] = useState<FullStep>({ step: 'closed' });
  const manage = session.can.manageSync;
  const [confirmEl, confirm] = useConfirm();

  useEffect(() => {
    void run(() => api.syncStatus()).then((s) => s && setSync(s));
  }, [run, setSync]);

  // After a push or pull, success or not, show the status as it now is.
  const refresh = () => api.syncStatus().then(setSync, () => {});
  const round = async (kind: 'push' | 'pull') => {
    const startedAt = Date.now();
    const s = await run(() => (kind === 'push' ? api.pushPending() : api.pullUpdates()));
    if (!s) return void refresh();
    setSync(s);
    const outcome = roundOutcome(kind, s, startedAt);
    if (outcome.ok) notify(outcome.text);
    else showError(outcome.text);
  };
  const push = () => round('push');
  const pull = () => round('pull');
  const startFull = async () => {
    setFull({ step: 'previewing' });
    const p = await run(() => api.fullSyncPreview());
    setFull(p ? { step: 'preview', preview: p, removeServerOnly: false } : { step: 'closed' });
  };
  const applyFull = async (removeServerOnly: boolean) => {
    setFull({ step: 'running', progress: null });
    let un: (() => void) | undefined;
    try {
      un = await events.onFullSyncProgress((p) => setFull((f) => (f.step === 'running' ? { step: 'running', progress: p } : f)));
    } catch { /* progress is a nicety */ }
    const report = await run(() => api.fullSyncApply(removeServerOnly));
    un?.();
    setFull(report ? { step: 'done', report } : { step: 'closed' });
    void api.syncStatus().then(setSync, () => {});
  };

  const s = sync;
  const state = s?.state ?? 'not_configured';
  return (
    <div class="page">
      <PageHead title="Sync status">
        <button type="button" class="secondary" data-testid="push-pending" disabled={busy || state === 'not_configured'} onClick={() => void push()}>Push Pending Data</button>
        <button type="button" class="secondary" data-testid="pull-updates" disabled={busy || state === 'not_configured'} onClick={() => void pull()}>Pull Updates</button>
        {manage ? (
          <button type="button" class="primary" data-testid="full-sync" disabled={busy || state === 'not_configured'} onClick={() => void startFull()}>Full Cloud Synchronization</button>
        ) : null}
      </PageHead>
      <div class="stat-grid">
        <div class="stat">
          <span class="stat-label">State</span>
          <span class={'stat-value state-' + state} data-testid="sync-state" data-state={state}>{STATE_LABEL[state] ?? state}</span>
          {s?.backofficeUrl ? <span class="muted small">{s.backofficeUrl}</span> : <span class="muted small">Set the Back Office in Settings.</span>}
        </div>
        <div class="stat">
          <span class="stat-label">Waiting to upload</span>
          <span class="stat-value" data-testid="sync-pending-count" data-count={String(s?.pending ?? 0)}>{s?.pending ?? 0}</span>
          {s && s.heldChanges ? <span class="muted small">{s.heldChanges} pulled changes held</span> : null}
        </div>
        <div class="stat">
          <span class="stat-label">Last push</span>
          <span class="stat-value small-value" data-testid="sync-last-push" data-at={s?.lastPushAt ?? ''}>{formatDateTimeSeconds(s?.lastPushAt)}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Last pull</span>
          <span class="stat-value small-value" data-testid="sync-last-pull" data-at={s?.lastPullAt ?? ''}>{formatDateTimeSeconds(s?.lastPullAt)}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Clock</span>
          <span class="stat-value small-value" data-skew-ms={s?.clockSkewMs ?? undefined}>{capitalize(formatSkew(s?.clockSkewMs))}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Retries</span>
          <span class="stat-value small-value">{s?.failures ?? 0}{s?.retryInMs ? ` · next in ${Math.ceil(s.retryInMs / 1000)} s` : ''}</span>
        </div>
      </div>
      <div class="card">
        <h3>Last error</h3>
        <p data-testid="sync-last-error" class={s?.lastError ? 'form-error' : 'muted'}>
          {s?.lastError ? `${s.lastError} (${formatDateTime(s.lastErrorAt)})` : 'None.'}
        </p>
      </div>
      <div class="card">
        <h3>Quarantined changes</h3>
        <p class="muted small">Changes the Back Office refused. Retry after fixing the cause, or discard them (managers).</p>
        {s && s.quarantined.length ? (
          <table class="table">
            <thead><tr><th>#</th><th>Kind</th><th>Reason</th><th /></tr></thead>
            <tbody>
              {s.quarantined.map((q) => (
                <tr key={q.opId} data-testid="quarantine-row" data-op-id={q.opId}>
                  <td>{q.deviceSeq}</td>
                  <td>{q.kind}</td>
                  <td>{q.reason}</td>
                  <td class="actions">
                    {manage ? (
                      <>
                        <button type="button" class="secondary" data-testid="quarantine-retry" disabled={busy} onClick={() => void run(() => api.retryQuarantined(q.opId)).then((x) => x && setSync(x))}>Retry</button>
                        <button type="button" class="danger" data-testid="quarantine-discard" disabled={busy} onClick={async () => {
                          if (await confirm('Discard this change? It will never reach the Back Office.', 'Discard')) {
                            const x = await run(() => api.discardQuarantined(q.opId));
                            if (x) setSync(x);
                          }
                        }}>Discard</button>
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <p class="muted">None.</p>}
      </div>

      {confirmEl}
      {full.step !== 'closed' ? (
        <Dialog title="Full Cloud Synchronization" onClose={() => setFull({ step: 'closed' })} closable={full.step !== 'running'} wide>
          {full.step === 'previewing' ? <p>Comparing this till with the Back Office…</p> : null}
          {full.step === 'preview' ? (
            <div>
              <p>What would change on the Back Office. Nothing has been changed yet.</p>
              <table class="table" data-testid="full-sync-preview">
                <thead><tr><th>Records</th><th>To add</th><th>To overwrite</th><th>Only on server</th><th>Unchanged</th></tr></thead>
                <tbody>
                  {full.preview.entities.map((e) => (
                    <tr key={e.entity}><td>{e.entity}</td><td>{e.toAdd}</td><td>{e.toOverwrite}</td><td>{e.serverOnly}</td><td>{e.unchanged}</td></tr>
                  ))}
                  <tr class="total-row"><td>Total</td><td>{full.preview.toAdd}</td><td>{full.preview.toOverwrite}</td><td>{full.preview.serverOnly}</td><td /></tr>
                </tbody>
              </table>
              <label class="check">
                <input type="checkbox" data-testid="full-sync-remove-server-only" checked={full.removeServerOnly}
                  onChange={(e) => setFull({ ...full, removeServerOnly: e.currentTarget.checked })} />
                Remove the {full.preview.serverOnly} records that exist only on the server
              </label>
              <p class="warn">Synchronizing makes the Back Office hold exactly this till’s records for what is listed above{full.removeServerOnly ? ', and removes the records only the server has' : ''}. This cannot be undone.</p>
              <div class="dialog-actions">
                <button type="button" class="secondary" onClick={() => setFull({ step: 'closed' })}>Cancel</button>
                <button type="button" class="primary" data-testid="full-sync-confirm" onClick={() => void applyFull(full.removeServerOnly)}>Confirm and synchronize</button>
              </div>
            </div>
          ) : null}
          {full.step === 'running' ? (() => {
            const d = fullSyncProgress(full.progress);
            return (
              <div>
                <p role="status">{d.label}</p>
                {d.percent === null ? (
                  <progress class="progress" data-testid="full-sync-progress" data-phase={d.phase} />
                ) : (
                  <progress class="progress" data-testid="full-sync-progress" data-phase={d.phase} max={100} value={d.percent} />
                )}
              </div>
            );
          })() : null}
          {full.step === 'done' ? (
            <div data-testid="full-sync-report">
              <progress class="progress" data-testid="full-sync-progress" data-phase="done" max={100} value={100} />
              <p>Finished: {full.report.added} added, {full.report.overwritten} overwritten, {full.report.removed} removed, {full.report.rejected} rejected.</p>
              {full.report.messages.length ? <ul>{full.report.messages.map((m, i) => <li key={i}>{m}</li>)}</ul> : null}
              <div class="dialog-actions"><button type="button" class="primary" onClick={() => setFull({ step: 'closed' })}>Close</button></div>
            </div>
          ) : null}
        </Dialog>
      ) : null}
    </div>
  );
}

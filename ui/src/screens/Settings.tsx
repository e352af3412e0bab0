/**
 * Settings: business details, tax rates, auto-lock, and the Back Office
 * connection (URL + API key kept in the OS keyring; shown masked).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, toCommandError } from '../api';
import { Dialog } from '../components/Dialog';
import { useConfirm } from '../components/Confirm';
import { Field, PageHead } from '../components/ui';
import { useApp } from '../context';
import { useRun } from '../hooks';
import { formatDateTime, formatSkew } from '../lib/format';
import { looksMasked } from '../lib/mask';
import { formatPercent, parsePercent } from '../lib/percent';
import type { SettingsInput, SettingsView, TaxRateView } from '../types';

function toInput(s: SettingsView): SettingsInput {
  return {
    storeName: s.storeName, address: s.address, phone: s.phone, taxPin: s.taxPin, receiptHeader: s.receiptHeader,
    receiptFooter: s.receiptFooter, currency: s.currency, timeZone: s.timeZone, taxMode: s.taxMode, autoLockMinutes: s.autoLockMinutes,
  };
}

type Result = { ok: true; text: string } | { ok: false; text: string };

export function Settings() {
  const { refreshInfo, notify, session } = useApp();
  const [busy, run] = useRun();
  const [view, setView] = useState<SettingsView | null>(null);
  const [form, setForm] = useState<SettingsInput | null>(null);
  const [url, setUrl] = useState('');
  const [key, setKey] = useState('');
  const [result, setResult] = useState<Result | null>(null);
  const [keyringMsg, setKeyringMsg] = useState<string | null>(null);
  const [rate, setRate] = useState<{ code: string; name: string; percent: string; isNew: boolean } | null>(null);
  const [confirmEl, confirm] = useConfirm();

  const adopt = (s: SettingsView) => {
    setView(s);
    setForm(toInput(s));
    setUrl(s.backofficeUrl ?? '');
    setKey(s.apiKeyMasked ?? '');
    setKeyringMsg(s.keyring.available ? null : s.keyring.message ?? 'This computer has no keyring to keep the API key in.');
  };

  useEffect(() => {
    void run(() => api.settings()).then((s) => s && adopt(s));
  }, [run]);

  if (!view || !form) return <div class="page"><PageHead title="Settings" /><p class="muted">Loading…</p></div>;

  const set = <K extends keyof SettingsInput>(k: K, v: SettingsInput[K]) => setForm({ ...form, [k]: v });
  const connection = () => ({ url: url.trim(), apiKey: key.trim() === '' || looksMasked(key) ? null : key.trim() });

  const saveBusiness = async (e: Event) => {
    e.preventDefault();
    const s = await run(() => api.saveSettings(form));
    if (s) { setView(s); setForm(toInput(s)); refreshInfo(); notify('Settings saved.'); }
  };

  const saveConnection = async () => {
    setResult(null);
    try {
      const s = await api.saveConnection(connection());
      adopt(s);
      setResult({ ok: true, text: 'Connection saved.' });
    } catch (raw) {
      const err = toCommandError(raw);
      if (err.code === 'keyring_unavailable') setKeyringMsg(err.message);
      setResult({ ok: false, text: err.message });
    }
  };

  const testConnection = async () => {
    setResult({ ok: true, text: 'Testing…' });
    try {
      const t = await api.testConnection(connection());
      const who = t.device || t.branch ? ` Device ${t.device ?? '?'} at branch ${t.branch ?? '?'}.` : '';
      setResult({ ok: true, text: `Connected. Server version ${t.serverVersion}; server time ${formatDateTime(t.serverTime)}; ${formatSkew(t.clockSkewMs)}.${who}` });
    } catch (raw) {
      const err = toCommandError(raw);
      if (err.code === 'keyring_unavailable') setKeyringMsg(err.message);
      setResult({ ok: false, text: err.message });
    }
  };

  const saveRate = async () => {
    if (!rate) return;
    const bp = parsePercent(rate.percent);
    if (bp === null) return void notify('Enter the rate as a percentage, e.g. 16 or 8.5.');
    const s = await run(() => api.saveTaxRate({ code: rate.code.trim(), name: rate.name.trim(), basisPoints: bp }));
    if (s) { setView(s); setRate(null); }
  };

  const retire = async (r: TaxRateView) => {
    if (!(await confirm(`Retire tax rate ${r.code} (${r.name})? Products using it must move to another rate.`, 'Retire'))) return;
    const s = await run(() => api.retireTaxRate(r.code));
    if (s) setView(s);
  };

  return (
    <div class="page settings">
      <PageHead title="Settings">
        <span class="muted">Branch {view.branchCode} · Till {view.deviceCode} · signed in as {session.user.name}</span>
      </PageHead>
      <div class="two-col">
        <form class="card" onSubmit={saveBusiness}>
          <h3>Business</h3>
          <Field label="Store name"><input data-testid="settings-store-name" value={form.storeName} onInput={(e) => set('storeName', e.currentTarget.value)} /></Field>
          <Field label="Address"><input value={form.address} onInput={(e) => set('address', e.currentTarget.value)} /></Field>
          <div class="row">
            <Field label="Phone"><input value={form.phone} onInput={(e) => set('phone', e.currentTarget.value)} /></Field>
            <Field label="KRA PIN"><input value={form.taxPin} onInput={(e) => set('taxPin', e.currentTarget.value)} /></Field>
          </div>
          <Field label="Receipt header"><textarea rows={2} value={form.receiptHeader} onInput={(e) => set('receiptHeader', e.currentTarget.value)} /></Field>
          <Field label="Receipt footer"><textarea rows={2} value={form.receiptFooter} onInput={(e) => set('receiptFooter', e.currentTarget.value)} /></Field>
          <div class="row">
            <Field label="Currency"><input value={form.currency} maxLength={3} onInput={(e) => set('currency', e.currentTarget.value.toUpperCase())} /></Field>
            <Field label="Time zone"><input value={form.timeZone} placeholder="Africa/Nairobi" onInput={(e) => set('timeZone', e.currentTarget.value)} /></Field>
          </div>
          <div class="row">
            <Field label="Prices">
              <select value={form.taxMode} onChange={(e) => set('taxMode', e.currentTarget.value)}>
                <option value="inclusive">include tax</option>
                <option value="exclusive">exclude tax</option>
              </select>
            </Field>
            <Field label="Auto-lock after (minutes, 0 = never)">
              <input type="number" min={0} max={240} data-testid="settings-auto-lock" value={form.autoLockMinutes}
                onInput={(e) => set('autoLockMinutes', Math.max(0, Math.trunc(Number(e.currentTarget.value) || 0)))} />
            </Field>
          </div>
          <div class="form-actions"><button type="submit" class="primary" data-testid="settings-save" disabled={busy}>Save business details</button></div>
        </form>

        <div>
          <div class="card">
            <h3>Back Office connection</h3>
            {keyringMsg ? <div class="warning" data-testid="settings-keyring-warning" role="alert">{keyringMsg}</div> : null}
            <Field label="Back Office URL">
              <input data-testid="settings-backoffice-url" placeholder="https://backoffice.example.co.ke" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
            </Field>
            <Field label="API key" hint={view.apiKeyMasked ? 'The stored key is shown masked. Type a new key to replace it.' : 'Paste the key the Back Office gave this till.'}>
              <input data-testid="settings-api-key" autoComplete="off" spellcheck={false} value={key}
                onFocus={(e) => { if (looksMasked(e.currentTarget.value)) e.currentTarget.select(); }}
                onInput={(e) => {
                  const v = e.currentTarget.value;
                  setKey(looksMasked(v) && view.apiKeyMasked && v !== view.apiKeyMasked ? v.replace(view.apiKeyMasked, '').replace(/•/g, '') : v);
                }} />
            </Field>
            <div class="form-actions">
              <button type="button" class="secondary" data-testid="settings-test-connection" disabled={!url.trim()} onClick={() => void testConnection()}>Test connection</button>
              <button type="button" class="primary" data-testid="settings-save-connection" disabled={!url.trim()} onClick={() => void saveConnection()}>Save connection</button>
            </div>
            <div data-testid="settings-connection-result" data-ok={result ? String(result.ok) : undefined} class={result ? (result.ok ? 'result ok' : 'result error') : 'result'} role="status">
              {result?.text ?? ''}
            </div>
            {view.backofficeUrl ? (
              <button type="button" class="link" onClick={async () => {
                if (await confirm('Forget the Back Office connection? The till keeps working offline.', 'Forget')) {
                  const s = await run(() => api.forgetConnection());
                  if (s) { adopt(s); setResult(null); }
                }
              }}>Forget this connection</button>
            ) : null}
          </div>

          <div class="card">
            <h3>Tax rates</h3>
            <table class="table">
              <thead><tr><th>Code</th><th>Name</th><th>Rate</th><th /></tr></thead>
              <tbody>
                {view.taxRates.map((r) => (
                  <tr key={r.code}>
                    <td>{r.code}</td><td>{r.name}</td><td>{formatPercent(r.basisPoints)}</td>
                    <td class="actions">
                      <button type="button" class="secondary" onClick={() => setRate({ code: r.code, name: r.name, percent: formatPercent(r.basisPoints).replace('%', ''), isNew: false })}>Edit</button>
                      <button type="button" class="danger" onClick={() => void retire(r)}>Retire</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <button type="button" class="secondary" onClick={() => setRate({ code: '', name: '', percent: '', isNew: true })}>Add tax rate</button>
          </div>
        </div>
      </div>
      {rate ? (
        <Dialog title={rate.isNew ? 'New tax rate' : `Edit tax rate ${rate.code}`} onClose={() => setRate(null)}>
          <form onSubmit={(e) => { e.preventDefault(); void saveRate(); }}>
            <Field label="Code (e.g. A, B, E)"><input value={rate.code} disabled={!rate.isNew} onInput={(e) => setRate({ ...rate, code: e.currentTarget.value.toUpperCase() })} /></Field>
            <Field label="Name"><input value={rate.name} onInput={(e) => setRate({ ...rate, name: e.currentTarget.value })} /></Field>
            <Field label="Rate (%)"><input inputMode="decimal" value={rate.percent} onInput={(e) => setRate({ ...rate, percent: e.currentTarget.value })} /></Field>
            <div class="dialog-actions">
              <button type="button" class="secondary" onClick={() => setRate(null)}>Cancel</button>
              <button type="submit" class="primary" disabled={busy}>Save</button>
            </div>
          </form>
        </Dialog>
      ) : null}
      {confirmEl}
    </div>
  );
}

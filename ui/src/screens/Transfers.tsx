/**
 * Stock transfers between branches: what to receive here (count each line,
 * warned before a receipt that will be flagged as a discrepancy), the form
 * to send stock to another branch (it leaves this branch's stock at once),
 * what is in transit, and the history with each line's sent and received
 * quantities. Everything is local: it works offline, and transfers travel
 * with Push / Pull like any other record. The rules (who may send, to which
 * branch, received once) are checked in Rust; `lib/transfers.ts` only
 * catches typing mistakes first.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { useConfirm } from '../components/Confirm';
import { Empty, Field, PageHead } from '../components/ui';
import { useApp } from '../context';
import { useRun } from '../hooks';
import { formatDateTime } from '../lib/format';
import { formatQuantity } from '../lib/quantity';
import {
  DISCREPANCY_WARNING, EMPTY_DRAFT, STATE_LABEL, addLine, branchLabel, buildReceivePayload, buildSendPayload, counterpart,
  countsDiffer, describeDifferences, destinations, exclusive, history, initialCounts, removeLine, setLineQuantity, type SendDraft,
} from '../lib/transfers';
import type { BranchView, ProductView, TransferView } from '../types';

/** Typing in the product search waits this long after the last key. */
const SEARCH_DEBOUNCE_MS = 150;

function StateBadge({ t }: { t: TransferView }) {
  const cls = t.state === 'received_with_discrepancy' ? 'tag danger' : 'tag';
  return <span class={cls} data-testid="transfer-state">{STATE_LABEL[t.state]}</span>;
}

/** Sent vs received, line by line. */
function Lines({ t }: { t: TransferView }) {
  return (
    <table class="table">
      <thead><tr><th>Product</th><th class="num">Sent</th><th class="num">Received</th></tr></thead>
      <tbody>
        {t.lines.map((l) => (
          <tr key={l.lineNo} data-testid="transfer-line" data-product-name={l.productName} data-sent={String(l.sent)}
            data-received={l.received === null ? '' : String(l.received)} data-discrepancy={String(l.discrepancy)}>
            <td>{l.productName}</td>
            <td class="num">{formatQuantity(l.sent)}</td>
            <td class={'num' + (l.discrepancy ? ' neg' : '')}>
              {l.received === null ? '—' : formatQuantity(l.received)}
              {l.discrepancy ? <span class="tag danger">differs</span> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One transfer in the In transit or History list. */
function TransferRow({ t }: { t: TransferView }) {
  return (
    <div class="card" data-testid="transfer-row" data-transfer-id={t.id} data-state={t.state} data-direction={t.direction}>
      <div class="row">
        <div style={{ flex: 1 }}>
          <strong>{counterpart(t)}</strong> <StateBadge t={t} />
          <div class="muted small">
            Sent {formatDateTime(t.sentAt)} by {t.sentBy}
            {t.receivedAt ? <> · received {formatDateTime(t.receivedAt)} by {t.receivedBy ?? 'unknown user'}</> : null}
          </div>
          {t.note ? <div class="small">Note: {t.note}</div> : null}
          {t.receiptNote ? <div class="small">On receipt: {t.receiptNote}</div> : null}
        </div>
      </div>
      <Lines t={t} />
    </div>
  );
}

/** An incoming transfer: a count per line, prefilled with what was sent. */
function ReceiveCard({ t, onReceived }: { t: TransferView; onReceived: (t: TransferView) => void }) {
  const [, run] = useRun();
  // The receipt's own in-flight guard (see `exclusive`): a second click
  // while the first is confirming or saving does nothing.
  const receiving = useRef(false);
  const [inFlight, setInFlight] = useState(false);
  // Received: the card stays until the list reloads, but cannot be sent again.
  const [received, setReceived] = useState(false);
  const [counts, setCounts] = useState<Record<number, string>>(() => initialCounts(t));
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [confirmEl, confirm] = useConfirm();
  const differs = countsDiffer(t, counts);
  const receive = async () => {
    const built = buildReceivePayload(t, counts, note);
    if (!built.ok) return setError(built.error);
    setError(null);
    const { payload, differences } = built.value;
    const question = differences.length
      ? `${DISCREPANCY_WARNING} ${describeDifferences(differences)}. Receive it like this?`
      : `Receive everything as sent from ${branchLabel(t.fromBranch)}? It enters this branch's stock now.`;
    if (!(await confirm(question, differences.length ? 'Receive with discrepancy' : 'Receive', differences.length > 0))) return;
    const done = await run(() => api.receiveTransfer(payload));
    if (done) { setReceived(true); onReceived(done); }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    if (received) return;
    void exclusive(receiving, receive, setInFlight);
  };
  return (
    <form class="card" onSubmit={submit} data-testid="transfer-row" data-transfer-id={t.id} data-state={t.state} data-direction={t.direction}>
      <strong>{counterpart(t)}</strong> <StateBadge t={t} />
      <div class="muted small">Sent {formatDateTime(t.sentAt)} by {t.sentBy}</div>
      {t.note ? <div class="small">Note: {t.note}</div> : null}
      <table class="table">
        <thead><tr><th>Product</th><th class="num">Sent</th><th>Received (counted)</th></tr></thead>
        <tbody>
          {t.lines.map((l) => (
            <tr key={l.lineNo} data-testid="transfer-line" data-product-name={l.productName} data-sent={String(l.sent)}>
              <td>{l.productName}</td>
              <td class="num">{formatQuantity(l.sent)}</td>
              <td>
                <input class="narrow" inputMode="decimal" data-testid="receive-qty" data-line-no={String(l.lineNo)} aria-label={`Received of ${l.productName}`}
                  value={counts[l.lineNo] ?? ''} onInput={(e) => { const v = e.currentTarget.value; setCounts((c) => ({ ...c, [l.lineNo]: v })); }} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {differs ? <p class="warning" role="alert" data-testid="receive-discrepancy-warning">{DISCREPANCY_WARNING}</p> : null}
      <Field label="Note (optional)"><input data-testid="receive-note" value={note} onInput={(e) => setNote(e.currentTarget.value)} /></Field>
      {error ? <p class="form-error" role="alert">{error}</p> : null}
      <div class="form-actions">
        <button type="submit" class="primary" data-testid="receive-confirm" disabled={inFlight || received}>Receive</button>
      </div>
      {confirmEl}
    </form>
  );
}

/** The send form: a destination, products found by search with a quantity each, a note. */
function SendForm({ branches, onSent }: { branches: BranchView[]; onSent: (t: TransferView) => void }) {
  // The product search and the send keep separate busy flags: a search
  // finishing mid-send must not re-enable the Send button.
  const [searching, runSearch] = useRun();
  const [, run] = useRun();
  // The send's own in-flight guard (see `exclusive`), checked synchronously
  // at the start of the handler: a second click while the first send is
  // confirming or saving does nothing, so stock is never sent twice.
  const sending = useRef(false);
  const [inFlight, setInFlight] = useState(false);
  const [draft, setDraft] = useState<SendDraft>(EMPTY_DRAFT);
  const [text, setText] = useState('');
  const [found, setFound] = useState<ProductView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [confirmEl, confirm] = useConfirm();
  const targets = destinations(branches);
  useEffect(() => {
    if (!text.trim()) { setFound([]); return; }
    const timer = window.setTimeout(() => {
      void runSearch(() => api.products({ categoryId: null, text: text.trim(), limit: 20 })).then((r) => r && setFound(r.filter((p) => p.trackStock)));
    }, SEARCH_DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [text, runSearch]);

  if (targets.length === 0) {
    return (
      <div class="card" data-testid="transfers-send-form" data-empty="true">
        <h3>Send stock</h3>
        <Empty>
          This till knows no other branch yet. Branches come from the Back Office: connect this till in Settings, then press
          Pull Updates on the Sync page.
        </Empty>
      </div>
    );
  }

  const send = async () => {
    const built = buildSendPayload(draft, branches);
    if (!built.ok) return setError(built.error);
    setError(null);
    const to = branches.find((b) => b.id === built.value.toBranchId)!;
    const n = built.value.lines.length;
    const ok = await confirm(`Send ${n} product${n === 1 ? '' : 's'} to ${branchLabel(to)}? The stock leaves this branch now.`, 'Send stock', false);
    if (!ok) return;
    const sent = await run(() => api.sendTransfer(built.value));
    // The form is cleared only once the send succeeded; a failed one keeps it to retry.
    if (sent) { setDraft(EMPTY_DRAFT); setText(''); setFound([]); onSent(sent); }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    void exclusive(sending, send, setInFlight);
  };

  return (
    <form class="card" onSubmit={submit} data-testid="transfers-send-form">
      <h3>Send stock</h3>
      <Field label="To branch">
        <select data-testid="send-destination" value={draft.toBranchId} onChange={(e) => setDraft({ ...draft, toBranchId: e.currentTarget.value })}>
          <option value="">— choose a branch —</option>
          {targets.map((b) => <option key={b.id} value={b.id} data-testid="send-destination-option" data-branch-code={b.code}>{branchLabel(b)}</option>)}
        </select>
      </Field>
      <Field label="Add products">
        <input type="search" data-testid="send-product-search" placeholder="Search products (name, SKU, barcode)" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </Field>
      {found.length ? (
        <div class="pick-list">
          {found.map((p) => (
            <button type="button" key={p.id} data-testid="send-product-add" data-product-name={p.name} disabled={draft.lines.some((l) => l.productId === p.id)}
              onClick={() => setDraft({ ...draft, lines: addLine(draft.lines, p) })}>
              <span>{p.name}</span><span class="muted small">{formatQuantity(p.stock)} in stock</span>
            </button>
          ))}
        </div>
      ) : text.trim() && !searching ? <p class="muted small">No stock-tracked product matches “{text.trim()}”.</p> : null}
      {draft.lines.length === 0 ? <p class="muted">Search for the products to send and add them here.</p> : (
        <table class="table">
          <thead><tr><th>Product</th><th class="num">In stock</th><th>Quantity to send</th><th /></tr></thead>
          <tbody>
            {draft.lines.map((l) => (
              <tr key={l.productId} data-testid="send-line" data-product-name={l.name}>
                <td>{l.name}</td>
                <td class="num">{formatQuantity(l.stock)}</td>
                <td><input class="narrow" inputMode="decimal" data-testid="send-line-qty" data-product-name={l.name} aria-label={`Quantity of ${l.name}`} value={l.quantity}
                  onInput={(e) => setDraft({ ...draft, lines: setLineQuantity(draft.lines, l.productId, e.currentTarget.value) })} /></td>
                <td class="actions"><button type="button" class="ghost" data-testid="send-line-remove" aria-label={`Remove ${l.name}`}
                  onClick={() => setDraft({ ...draft, lines: removeLine(draft.lines, l.productId) })}>×</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Field label="Note (optional)"><input data-testid="send-note" value={draft.note} onInput={(e) => setDraft({ ...draft, note: e.currentTarget.value })} /></Field>
      {error ? <p class="form-error" role="alert" data-testid="send-error">{error}</p> : null}
      <div class="form-actions">
        <button type="submit" class="primary" data-testid="send-submit" disabled={inFlight}>Send stock</button>
      </div>
      {confirmEl}
    </form>
  );
}

export function Transfers() {
  const { notify } = useApp();
  const [, run] = useRun();
  const [branches, setBranches] = useState<BranchView[] | null>(null);
  const [toReceive, setToReceive] = useState<TransferView[] | null>(null);
  const [inTransit, setInTransit] = useState<TransferView[] | null>(null);
  const [all, setAll] = useState<TransferView[] | null>(null);

  const load = useCallback(() => {
    void run(() => api.branches()).then((b) => b && setBranches(b));
    void run(() => api.transfers('to_receive')).then((r) => r && setToReceive(r));
    void run(() => api.transfers('in_transit')).then((r) => r && setInTransit(r));
    void run(() => api.transfers('all')).then((r) => r && setAll(r));
  }, [run]);
  useEffect(load, [load]);
  const done = useMemo(() => (all ? history(all) : null), [all]);

  return (
    <div class="page" data-testid="transfers-screen">
      <PageHead title="Stock transfers">
        <button type="button" class="secondary" data-testid="transfers-refresh" onClick={load}>Refresh</button>
      </PageHead>
      <section data-testid="transfers-to-receive">
        <h2>To receive</h2>
        {toReceive === null ? <p class="muted">Loading…</p> : toReceive.length === 0 ? (
          <Empty>Nothing to receive. Stock another branch sends here appears after Pull Updates (Sync page).</Empty>
        ) : toReceive.map((t) => (
          <ReceiveCard key={t.id} t={t} onReceived={(r) => {
            notify(r.state === 'received_with_discrepancy' ? 'Received; the difference is flagged as a discrepancy.' : 'Received: the stock is in.');
            load();
          }} />
        ))}
      </section>
      {branches ? <SendForm branches={branches} onSent={(t) => { notify(`Stock sent to ${branchLabel(t.toBranch)}.`); load(); }} /> : null}
      <section data-testid="transfers-in-transit">
        <h2>In transit</h2>
        {inTransit === null ? <p class="muted">Loading…</p> : inTransit.length === 0 ? (
          <Empty>Nothing in transit. Stock you send appears here until the other branch receives it.</Empty>
        ) : inTransit.map((t) => <TransferRow key={t.id} t={t} />)}
      </section>
      <section data-testid="transfers-history">
        <h2>History</h2>
        {done === null ? <p class="muted">Loading…</p> : done.length === 0 ? (
          <Empty>No transfer has been received yet; received transfers, to and from this branch, are kept here.</Empty>
        ) : done.map((t) => <TransferRow key={t.id} t={t} />)}
      </section>
    </div>
  );
}

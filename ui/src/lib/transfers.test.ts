import { describe, expect, it } from 'vitest';
import type { BranchView, TransferView } from '../types';
import {
  DISCREPANCY_WARNING, EMPTY_DRAFT, addLine, buildReceivePayload, buildSendPayload, counterpart, countsDiffer,
  describeDifferences, destinations, exclusive, history, initialCounts, removeLine, setLineQuantity, type InFlight, type SendDraft,
} from './transfers';

const here: BranchView = { id: 'b-main', code: 'MAIN', name: 'Main branch', thisBranch: true };
const cbd: BranchView = { id: 'b-cbd', code: 'CBD', name: 'CBD branch', thisBranch: false };
const west: BranchView = { id: 'b-west', code: 'WEST', name: 'Westlands', thisBranch: false };
const branches = [here, cbd, west];

const soda = { id: 'p-soda', name: 'Soda', stock: 20_000 };
const flour = { id: 'p-flour', name: 'Flour', stock: 10_000 };

function draft(over: Partial<SendDraft> = {}): SendDraft {
  let lines = addLine(addLine([], soda), flour);
  lines = setLineQuantity(setLineQuantity(lines, soda.id, '5'), flour.id, '2.5');
  return { toBranchId: cbd.id, lines, note: '  weekly top-up ', ...over };
}

function incoming(): TransferView {
  return {
    id: 't-1', fromBranch: cbd, toBranch: here, direction: 'incoming', state: 'sent',
    sentBy: 'Amina', sentAt: '2026-03-02T06:00:00.000Z', receivedBy: null, receivedAt: null, note: null, receiptNote: null,
    lines: [
      { lineNo: 1, productId: soda.id, productName: 'Soda', sent: 10_000, received: null, discrepancy: false },
      { lineNo: 2, productId: flour.id, productName: 'Flour', sent: 2_500, received: null, discrepancy: false },
    ],
  };
}

describe('the send form', () => {
  it('offers every known branch but this one', () => {
    expect(destinations(branches)).toEqual([cbd, west]);
    expect(destinations([here])).toEqual([]);
  });

  it('lists a product once and removes it', () => {
    const once = addLine(addLine([], soda), soda);
    expect(once).toHaveLength(1);
    expect(once[0]).toEqual({ productId: soda.id, name: 'Soda', stock: 20_000, quantity: '' });
    expect(removeLine(addLine(once, flour), soda.id).map((l) => l.name)).toEqual(['Flour']);
  });

  it('builds the payload in thousandths with a trimmed note', () => {
    expect(buildSendPayload(draft(), branches)).toEqual({
      ok: true,
      value: {
        toBranchId: cbd.id,
        lines: [{ productId: soda.id, quantity: 5_000 }, { productId: flour.id, quantity: 2_500 }],
        note: 'weekly top-up',
      },
    });
    const noNote = buildSendPayload(draft({ note: '   ' }), branches);
    expect(noNote.ok && noNote.value.note).toBeNull();
  });

  it('names what to fix', () => {
    const error = (d: SendDraft) => {
      const r = buildSendPayload(d, branches);
      return r.ok ? 'accepted' : r.error;
    };
    expect(error({ ...EMPTY_DRAFT })).toMatch(/choose the branch/i);
    expect(error(draft({ toBranchId: here.id }))).toMatch(/other than this branch/);
    expect(error(draft({ toBranchId: 'b-gone' }))).toMatch(/not one this till knows/);
    expect(error(draft({ lines: [] }))).toMatch(/at least one product/);
    expect(error(draft({ lines: setLineQuantity(draft().lines, flour.id, '0') }))).toMatch(/^Flour: .*more than zero/);
    expect(error(draft({ lines: setLineQuantity(draft().lines, flour.id, '-2') }))).toMatch(/^Flour: .*negative/);
    expect(error(draft({ lines: setLineQuantity(draft().lines, soda.id, 'ten') }))).toMatch(/^Soda: .*not a quantity/);
    expect(error(draft({ lines: setLineQuantity(draft().lines, soda.id, ' ') }))).toMatch(/^Soda: enter the quantity/);
    const twice = draft();
    expect(error({ ...twice, lines: [...twice.lines, twice.lines[0]!] })).toMatch(/Soda is listed twice/);
  });
});

describe('receiving', () => {
  it('prefills every count with what was sent', () => {
    expect(initialCounts(incoming())).toEqual({ 1: '10', 2: '2.5' });
    const t = incoming();
    expect(countsDiffer(t, initialCounts(t))).toBe(false);
  });

  it('sends a count per line and finds none different when all arrived', () => {
    const t = incoming();
    const r = buildReceivePayload(t, initialCounts(t), ' ');
    expect(r).toEqual({
      ok: true,
      value: {
        payload: { transferId: 't-1', lines: [{ lineNo: 1, quantity: 10_000 }, { lineNo: 2, quantity: 2_500 }], note: null },
        differences: [],
      },
    });
  });

  it('flags a line counted short, and zero for what did not arrive', () => {
    const t = incoming();
    const counts = { 1: '9', 2: '0' };
    expect(countsDiffer(t, counts)).toBe(true);
    const r = buildReceivePayload(t, counts, 'one crate broken');
    if (!r.ok) throw new Error(r.error);
    expect(r.value.payload.lines).toEqual([{ lineNo: 1, quantity: 9_000 }, { lineNo: 2, quantity: 0 }]);
    expect(r.value.payload.note).toBe('one crate broken');
    expect(r.value.differences).toEqual([
      { lineNo: 1, name: 'Soda', sent: 10_000, received: 9_000 },
      { lineNo: 2, name: 'Flour', sent: 2_500, received: 0 },
    ]);
    expect(describeDifferences(r.value.differences)).toBe('Soda: 10 sent, 9 received; Flour: 2.5 sent, 0 received');
    expect(DISCREPANCY_WARNING).toContain('flagged as a discrepancy');
  });

  it('refuses an empty or bad count by product name', () => {
    const t = incoming();
    const error = (counts: Record<number, string>) => {
      const r = buildReceivePayload(t, counts, '');
      return r.ok ? 'accepted' : r.error;
    };
    expect(error({ 1: '10' })).toMatch(/^Flour: enter the quantity received \(0 if none arrived\)/);
    expect(error({ 1: '-1', 2: '2.5' })).toMatch(/^Soda: .*negative/);
    expect(error({ 1: '1.2345', 2: '2.5' })).toMatch(/^Soda: .*3 decimals/);
    // A half-typed count is not a difference yet.
    expect(countsDiffer(t, { 1: '', 2: '2.5' })).toBe(false);
  });
});

describe('the lists', () => {
  it('names the other branch from this till', () => {
    expect(counterpart(incoming())).toBe('From CBD branch (CBD)');
    expect(counterpart({ ...incoming(), direction: 'outgoing', fromBranch: here, toBranch: west })).toBe('To Westlands (WEST)');
  });

  it('keeps received transfers for the history', () => {
    const sent = incoming();
    const received: TransferView = { ...sent, id: 't-2', state: 'received' };
    const short: TransferView = { ...sent, id: 't-3', state: 'received_with_discrepancy' };
    expect(history([sent, received, short]).map((t) => t.id)).toEqual(['t-2', 't-3']);
  });
});

describe('one send at a time', () => {
  it('refuses a second call while the first is pending, then allows the next', async () => {
    const flag: InFlight = { current: false };
    const busy: boolean[] = [];
    let release!: (v: string) => void;
    let calls = 0;
    const send = () => { calls += 1; return new Promise<string>((r) => { release = r; }); };

    const first = exclusive(flag, send, (b) => busy.push(b));
    expect(flag.current).toBe(true);
    const second = await exclusive(flag, send, (b) => busy.push(b));
    expect(second).toEqual({ ran: false });
    expect(calls).toBe(1);

    release('t-1');
    expect(await first).toEqual({ ran: true, value: 't-1' });
    expect(flag.current).toBe(false);
    expect(busy).toEqual([true, false]);

    const third = exclusive(flag, send);
    release('t-2');
    expect(await third).toEqual({ ran: true, value: 't-2' });
    expect(calls).toBe(2);
  });

  it('releases the flag when the action fails, so it can be retried', async () => {
    const flag: InFlight = { current: false };
    await expect(exclusive(flag, () => Promise.reject(new Error('offline')))).rejects.toThrow('offline');
    expect(flag.current).toBe(false);
    expect(await exclusive(flag, () => Promise.resolve(1))).toEqual({ ran: true, value: 1 });
  });
});

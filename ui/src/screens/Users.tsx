/** Users (owners and managers): add, edit role/active, reset PIN, unlock, delete; and changing one's own PIN. */
import { useEffect, useState } from 'preact/hooks';
import { api, toCommandError } from '../api';
import { Dialog } from '../components/Dialog';
import { useConfirm } from '../components/Confirm';
import { Field, PageHead } from '../components/ui';
import { useApp } from '../context';
import { useRun } from '../hooks';
import { formatDateTime } from '../lib/format';
import type { RoleView, UserView } from '../types';

const ROLES: RoleView[] = ['cashier', 'manager', 'owner'];
const pinOk = (p: string) => /^\d{4,8}$/.test(p);

function UserDialog({ u, onSaved, onClose }: { u: UserView | null; onSaved: () => void; onClose: () => void }) {
  const [busy, run] = useRun();
  const [name, setName] = useState(u?.name ?? '');
  const [role, setRole] = useState<RoleView>(u?.role ?? 'cashier');
  const [active, setActive] = useState(u?.active ?? true);
  const [pin, setPin] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return setError('Enter a name.');
    if (!u && !pinOk(pin)) return setError('The PIN must be 4 to 8 digits.');
    setError(null);
    if (await run(() => api.saveUser({ id: u?.id ?? null, name: name.trim(), role, active, pin: u ? null : pin }))) onSaved();
  };
  return (
    <Dialog title={u ? `Edit ${u.name}` : 'Add a user'} onClose={onClose} closable={!busy}>
      <form onSubmit={submit}>
        <Field label="Name"><input data-testid="user-name" value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
        <Field label="Role">
          <select data-testid="user-role" value={role} onChange={(e) => setRole(e.currentTarget.value as RoleView)}>
            {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </Field>
        {u ? <label class="check"><input type="checkbox" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} /> Active (may sign in)</label> : (
          <Field label="PIN (4–8 digits)"><input data-testid="user-pin" type="password" inputMode="numeric" maxLength={8} value={pin} onInput={(e) => setPin(e.currentTarget.value.replace(/\D/g, ''))} /></Field>
        )}
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" data-testid="user-save" disabled={busy}>Save</button>
        </div>
      </form>
    </Dialog>
  );
}

function ResetPinDialog({ u, onClose }: { u: UserView; onClose: () => void }) {
  const { notify } = useApp();
  const [busy, run] = useRun();
  const [pin, setPin] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title={`New PIN for ${u.name}`} onClose={onClose} closable={!busy}>
      <form onSubmit={async (e) => {
        e.preventDefault();
        if (!pinOk(pin)) return setError('The PIN must be 4 to 8 digits.');
        if ((await run(() => api.resetPin(u.id, pin))) !== undefined) { notify(`${u.name}’s PIN was reset.`); onClose(); }
      }}>
        <Field label="New PIN"><input type="password" inputMode="numeric" maxLength={8} value={pin} onInput={(e) => setPin(e.currentTarget.value.replace(/\D/g, ''))} /></Field>
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>Reset PIN</button>
        </div>
      </form>
    </Dialog>
  );
}

export function ChangeOwnPin({ onClose }: { onClose: () => void }) {
  const { notify, session } = useApp();
  const [oldPin, setOld] = useState('');
  const [newPin, setNew] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title={`Change my PIN (${session.user.name})`} onClose={onClose} closable={!busy}>
      <form onSubmit={async (e) => {
        e.preventDefault();
        if (!pinOk(newPin)) return setError('The new PIN must be 4 to 8 digits.');
        if (newPin !== again) return setError('The two new PINs differ.');
        setBusy(true);
        try {
          await api.changeOwnPin(oldPin, newPin);
          notify('Your PIN was changed.');
          onClose();
        } catch (raw) {
          setError(toCommandError(raw).message);
        } finally {
          setBusy(false);
        }
      }}>
        <Field label="Current PIN"><input type="password" inputMode="numeric" maxLength={8} value={oldPin} onInput={(e) => setOld(e.currentTarget.value.replace(/\D/g, ''))} /></Field>
        <Field label="New PIN"><input type="password" inputMode="numeric" maxLength={8} value={newPin} onInput={(e) => setNew(e.currentTarget.value.replace(/\D/g, ''))} /></Field>
        <Field label="New PIN again"><input type="password" inputMode="numeric" maxLength={8} value={again} onInput={(e) => setAgain(e.currentTarget.value.replace(/\D/g, ''))} /></Field>
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>Change PIN</button>
        </div>
      </form>
    </Dialog>
  );
}

export function Users() {
  const { session, notify, refreshInfo } = useApp();
  const [busy, run] = useRun();
  const [users, setUsers] = useState<UserView[]>([]);
  const [editing, setEditing] = useState<UserView | null | 'new'>(null);
  const [resetting, setResetting] = useState<UserView | null>(null);
  const [confirmEl, confirm] = useConfirm();
  const load = () => void run(() => api.users()).then((u) => { if (u) { setUsers(u); refreshInfo(); } });
  useEffect(load, []);
  const mayManage = (u: UserView) => session.user.role === 'owner' || (session.user.role === 'manager' && u.role === 'cashier');

  return (
    <div class="page">
      <PageHead title="Users">
        <button type="button" class="primary" data-testid="user-new" onClick={() => setEditing('new')}>Add user</button>
      </PageHead>
      <div class="card list-card">
        <table class="table">
          <thead><tr><th>Name</th><th>Role</th><th>Status</th><th /></tr></thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id} data-testid="user-row" data-user-name={u.name}>
                <td>{u.name}{u.id === session.user.id ? <span class="tag">you</span> : null}</td>
                <td>{u.role}</td>
                <td>{!u.active ? 'inactive' : u.lockedUntil ? `locked out until ${formatDateTime(u.lockedUntil)}` : 'active'}</td>
                <td class="actions">
                  {mayManage(u) ? (
                    <>
                      <button type="button" class="secondary" onClick={() => setEditing(u)}>Edit</button>
                      <button type="button" class="secondary" onClick={() => setResetting(u)}>Reset PIN</button>
                      {u.lockedUntil ? <button type="button" class="secondary" data-testid="user-unlock" disabled={busy} onClick={async () => {
                        if ((await run(() => api.unlockUser(u.id))) !== undefined) { notify(`${u.name} can sign in again.`); load(); }
                      }}>Unlock</button> : null}
                      {u.id !== session.user.id ? <button type="button" class="danger" onClick={async () => {
                        if (await confirm(`Delete ${u.name}? Their past sales keep their name.`, 'Delete')) {
                          if ((await run(() => api.deleteUser(u.id))) !== undefined) load();
                        }
                      }}>Delete</button> : null}
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {editing ? <UserDialog u={editing === 'new' ? null : editing} onClose={() => setEditing(null)} onSaved={() => { setEditing(null); notify('User saved.'); load(); }} /> : null}
      {resetting ? <ResetPinDialog u={resetting} onClose={() => setResetting(null)} /> : null}
      {confirmEl}
    </div>
  );
}

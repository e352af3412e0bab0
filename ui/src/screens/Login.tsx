/**
 * The PIN screens: first-run owner setup, sign-in (user list + PIN pad), and
 * the lock screen (the same user's PIN, or switch user).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, toCommandError } from '../api';
import type { AppInfo, Session, UserView } from '../types';

function PinPad({ onDigit, onBack, onClear }: { onDigit: (d: string) => void; onBack: () => void; onClear: () => void }) {
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9'];
  return (
    <div class="pinpad" aria-label="PIN pad">
      {keys.map((k) => (
        <button type="button" key={k} tabIndex={-1} onClick={() => onDigit(k)}>{k}</button>
      ))}
      <button type="button" tabIndex={-1} class="muted" onClick={onClear}>Clear</button>
      <button type="button" tabIndex={-1} onClick={() => onDigit('0')}>0</button>
      <button type="button" tabIndex={-1} class="muted" onClick={onBack} aria-label="Delete">⌫</button>
    </div>
  );
}

function PinEntry({ title, subtitle, onSubmit, children }: {
  title: string;
  subtitle?: string;
  onSubmit: (pin: string) => Promise<string | null>;
  children?: preact.ComponentChildren;
}) {
  const [pin, setPin] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), [title]);
  const submit = async () => {
    if (busy || !pin) return;
    setBusy(true);
    const err = await onSubmit(pin);
    setBusy(false);
    if (err) {
      setError(err);
      setPin('');
      input.current?.focus();
    }
  };
  return (
    <form class="pin-entry" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <h2>{title}</h2>
      {subtitle ? <p class="muted">{subtitle}</p> : null}
      <input
        ref={input}
        type="password"
        inputMode="numeric"
        autoComplete="off"
        class="pin-input"
        data-testid="pin-input"
        aria-label="PIN"
        placeholder="PIN"
        maxLength={8}
        value={pin}
        onInput={(e) => { setPin((e.currentTarget as HTMLInputElement).value.replace(/\D/g, '')); setError(null); }}
      />
      {error ? <p class="form-error" role="alert">{error}</p> : null}
      <PinPad
        onDigit={(d) => { setPin((p) => (p.length < 8 ? p + d : p)); setError(null); input.current?.focus(); }}
        onBack={() => { setPin((p) => p.slice(0, -1)); input.current?.focus(); }}
        onClear={() => { setPin(''); input.current?.focus(); }}
      />
      <button type="submit" class="primary big" data-testid="pin-submit" disabled={busy || pin.length === 0}>
        {busy ? 'Checking…' : 'Sign in'}
      </button>
      {children}
    </form>
  );
}

function Brand({ info }: { info: AppInfo }) {
  return (
    <div class="login-brand">
      <div class="logo">WHIZ POS</div>
      <div class="store">{info.storeName}</div>
      <div class="muted">{info.branchCode} · Till {info.deviceCode} · v{info.version}</div>
    </div>
  );
}

export function OwnerSetup({ info, onSession }: { info: AppInfo; onSession: (s: Session) => void }) {
  const [name, setName] = useState('');
  const [pin, setPin] = useState('');
  const [pin2, setPin2] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return setError('Enter the owner’s name.');
    if (!/^\d{4,8}$/.test(pin)) return setError('The PIN must be 4 to 8 digits.');
    if (pin2 && pin2 !== pin) return setError('The two PINs differ.');
    setBusy(true);
    try {
      onSession(await api.createOwner(name.trim(), pin));
    } catch (raw) {
      setError(toCommandError(raw).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="login-screen">
      <Brand info={info} />
      <form class="card setup" onSubmit={submit}>
        <h2>Set up the owner</h2>
        <p class="muted">This till has no users yet. The owner can add cashiers and managers later.</p>
        <label class="field"><span class="field-label">Owner’s name</span>
          <input data-testid="owner-name" autoFocus value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label class="field"><span class="field-label">PIN (4–8 digits)</span>
          <input data-testid="owner-pin" type="password" inputMode="numeric" value={pin} onInput={(e) => setPin(e.currentTarget.value.replace(/\D/g, ''))} maxLength={8} /></label>
        <label class="field"><span class="field-label">PIN again (optional check)</span>
          <input type="password" inputMode="numeric" value={pin2} onInput={(e) => setPin2(e.currentTarget.value.replace(/\D/g, ''))} maxLength={8} /></label>
        {error ? <p class="form-error" role="alert">{error}</p> : null}
        <button type="submit" class="primary big" data-testid="owner-create" disabled={busy}>Create owner and sign in</button>
      </form>
    </div>
  );
}

function roleLabel(u: UserView) {
  return u.role[0]!.toUpperCase() + u.role.slice(1);
}

/**
 * The user list and the PIN. On the lock screen (`locked` set) the locked
 * user is chosen already and their PIN unlocks the session; choosing someone
 * else signs them in instead (switch user).
 */
export function SignIn({ info, onSession, locked }: { info: AppInfo; onSession: (s: Session) => void; locked?: UserView }) {
  const users = info.users.filter((u) => u.active);
  if (locked && !users.some((u) => u.id === locked.id)) users.unshift(locked);
  const [chosen, setChosen] = useState<UserView | null>(locked ?? (users.length === 1 ? users[0]! : null));
  const submit = async (pin: string): Promise<string | null> => {
    if (!chosen) return 'Choose your name.';
    try {
      if (locked && chosen.id === locked.id) {
        try {
          onSession(await api.unlock(pin));
          return null;
        } catch (raw) {
          // The session is gone altogether: sign in afresh.
          if (toCommandError(raw).code !== 'not_signed_in') throw raw;
        }
      }
      onSession(await api.login(chosen.id, pin));
      return null;
    } catch (raw) {
      return toCommandError(raw).message;
    }
  };
  return (
    <div class={'login-screen' + (locked ? ' lock-screen' : '')}>
      <Brand info={info} />
      <div class="login-body">
        <div class="user-list" role="list">
          {users.map((u) => (
            <button
              type="button"
              key={u.id}
              class={'user-button' + (chosen?.id === u.id ? ' selected' : '')}
              data-testid="login-user"
              data-user-name={u.name}
              onClick={() => setChosen(u)}
            >
              <span class="avatar">{u.name.slice(0, 1).toUpperCase()}</span>
              <span class="user-name">{u.name}</span>
              <span class="muted small">{roleLabel(u)}{u.lockedUntil ? ' · locked out' : ''}</span>
            </button>
          ))}
        </div>
        <div class="card">
          {chosen ? (
            <PinEntry
              key={chosen.id}
              title={locked && chosen.id === locked.id ? `Locked — ${chosen.name}` : `PIN for ${chosen.name}`}
              subtitle={locked ? (chosen.id === locked.id ? 'Enter your PIN to carry on.' : `Signs ${locked.name} out.`) : undefined}
              onSubmit={submit}
            />
          ) : (
            <div class="pin-entry"><h2>Who is selling?</h2><p class="muted">Choose your name.</p></div>
          )}
        </div>
      </div>
    </div>
  );
}

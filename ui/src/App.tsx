/**
 * The app shell: loads the till's info, runs the PIN screens, keeps the
 * session (and locks it after inactivity), and shows the header, the
 * navigation and the error banner around the screens.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, events, setSessionLostHandler, toCommandError } from './api';
import { AppContext, type AppContextValue } from './context';
import { IdleLock } from './lib/idle';
import { deriveIndicator } from './lib/syncIndicator';
import type { AppInfo, Capabilities, CommandError, Session, SyncStatusView } from './types';
import { OwnerSetup, SignIn } from './screens/Login';
import { Sales } from './screens/Sales';
import { Receipts } from './screens/Receipts';
import { Products } from './screens/Products';
import { Expenses } from './screens/Expenses';
import { Customers } from './screens/Customers';
import { Users, ChangeOwnPin } from './screens/Users';
import { Reports } from './screens/Reports';
import { Transfers } from './screens/Transfers';
import { Settings } from './screens/Settings';
import { SyncPage } from './screens/Sync';

type View = 'sales' | 'receipts' | 'products' | 'transfers' | 'expenses' | 'customers' | 'users' | 'reports' | 'settings' | 'sync';

const NAV: { view: View; label: string; allowed: (c: Capabilities) => boolean }[] = [
  { view: 'sales', label: 'Sales', allowed: (c) => c.sell },
  { view: 'receipts', label: 'Receipts', allowed: (c) => c.sell },
  { view: 'products', label: 'Products', allowed: () => true },
  // Sending and receiving stock is for those who may manage stock (the store checks the same).
  { view: 'transfers', label: 'Transfers', allowed: (c) => c.manageCatalog },
  { view: 'expenses', label: 'Expenses', allowed: (c) => c.recordExpense },
  { view: 'customers', label: 'Customers', allowed: (c) => c.serveCustomers },
  { view: 'users', label: 'Users', allowed: (c) => c.manageUsers },
  { view: 'reports', label: 'Reports', allowed: (c) => c.viewReports },
  { view: 'settings', label: 'Settings', allowed: (c) => c.manageSettings },
  { view: 'sync', label: 'Sync', allowed: () => true },
];

interface Banner { id: number; text: string; kind: 'error' | 'info' }
let bannerSeq = 0;

/** How often activity refreshes the backend session (it expires on its own). */
const TOUCH_EVERY_MS = 30_000;

export function App() {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [locked, setLocked] = useState(false);
  const [view, setView] = useState<View>('sales');
  const [sync, setSync] = useState<SyncStatusView | null>(null);
  const [banners, setBanners] = useState<Banner[]>([]);
  const [changingPin, setChangingPin] = useState(false);
  const sessionRef = useRef<Session | null>(null);
  sessionRef.current = session;

  const loadInfo = useCallback(async () => {
    try {
      setInfo(await api.appInfo());
      setLoadError(null);
    } catch (raw) {
      setLoadError(toCommandError(raw).message);
    }
  }, []);

  useEffect(() => { void loadInfo(); }, [loadInfo]);

  const push = useCallback((text: string, kind: Banner['kind']) => {
    const id = ++bannerSeq;
    setBanners((b) => [...b.slice(-2), { id, text, kind }]);
    window.setTimeout(() => setBanners((b) => b.filter((x) => x.id !== id)), kind === 'error' ? 12_000 : 4_000);
  }, []);
  const showError = useCallback((e: CommandError | string) => push(typeof e === 'string' ? e : e.message, 'error'), [push]);
  const notify = useCallback((text: string) => push(text, 'info'), [push]);

  const signedOut = useCallback(() => {
    setSession(null);
    setLocked(false);
    setView('sales');
    void loadInfo();
  }, [loadInfo]);

  // The backend refused a command because the session is gone.
  useEffect(() => {
    setSessionLostHandler((e) => {
      if (e.code === 'locked' && sessionRef.current) setLocked(true);
      else signedOut();
    });
  }, [signedOut]);

  const onSession = useCallback((s: Session) => {
    const prev = sessionRef.current;
    if (prev && prev.user.id !== s.user.id) setView('sales');
    setSession(s);
    setLocked(false);
  }, []);

  // Sync status: the event keeps it fresh; read it once on sign-in.
  useEffect(() => {
    let un: (() => void) | undefined;
    events.onSyncStatus(setSync).then((f) => { un = f; }).catch(() => {});
    return () => un?.();
  }, []);
  useEffect(() => {
    if (session && !locked) api.syncStatus().then(setSync).catch(() => {});
  }, [session, locked]);
  // A till that reaches its Back Office takes on its key's branch and till
  // codes (and pulls the business's name): read them again when it does.
  const online = sync?.state === 'online';
  useEffect(() => {
    if (online) void loadInfo();
  }, [online, loadInfo]);

  // Inactivity auto-lock.
  // Settings may change it: app info is read again after saving them.
  const autoLock = info?.autoLockMinutes ?? session?.autoLockMinutes ?? 0;
  const lastTouch = useRef(0);
  useEffect(() => {
    if (!session || locked) return;
    const lockNow = new IdleLock(autoLock, () => {
      setLocked(true);
      api.lock().catch(() => {});
      void loadInfo();
    });
    const activity = () => {
      lockNow.activity();
      const now = Date.now();
      if (now - lastTouch.current > TOUCH_EVERY_MS) {
        lastTouch.current = now;
        api.touch().catch(() => {});
      }
    };
    window.addEventListener('keydown', activity, true);
    window.addEventListener('pointerdown', activity, true);
    const timer = window.setInterval(() => lockNow.check(), 1000);
    return () => {
      window.removeEventListener('keydown', activity, true);
      window.removeEventListener('pointerdown', activity, true);
      window.clearInterval(timer);
    };
  }, [session, locked, autoLock, loadInfo]);

  const lockClicked = () => {
    setLocked(true);
    api.lock().catch(() => {});
    void loadInfo();
  };

  const bannerArea = (
    <div class="banners">
      {banners.some((b) => b.kind === 'error') ? (
        <div class="error-banner" data-testid="error-banner" role="alert">
          {banners.filter((b) => b.kind === 'error').map((b) => (
            <div class="banner-line" key={b.id}>
              <span>{b.text}</span>
              <button type="button" class="ghost" aria-label="Dismiss" data-testid="error-dismiss" onClick={() => setBanners((x) => x.filter((y) => y.id !== b.id))}>×</button>
            </div>
          ))}
        </div>
      ) : null}
      {banners.filter((b) => b.kind === 'info').map((b) => (
        <div class="info-banner" role="status" key={b.id}>{b.text}</div>
      ))}
    </div>
  );

  if (!info) {
    return (
      <div class="login-screen">
        <div class="login-brand"><div class="logo">WHIZ POS</div></div>
        {loadError ? (
          <div class="card"><p class="form-error" data-testid="error-banner">{loadError}</p>
            <button type="button" class="primary" onClick={() => void loadInfo()}>Try again</button></div>
        ) : <p class="muted">Starting…</p>}
      </div>
    );
  }
  if (!session) {
    return (
      <>
        {info.needsOwner ? <OwnerSetup info={info} onSession={onSession} /> : <SignIn info={info} onSession={onSession} />}
        {bannerArea}
      </>
    );
  }

  const ctx: AppContextValue = {
    info,
    session,
    currency: info.currency || 'KES',
    sync,
    setSync,
    showError,
    notify,
    active: !locked,
    refreshInfo: () => void loadInfo(),
    setSession,
  };
  const ind = deriveIndicator(sync);
  const can = session.can;
  const nav = NAV.filter((n) => n.allowed(can));
  const current = nav.some((n) => n.view === view) ? view : (nav[0]?.view ?? 'sync');

  return (
    <AppContext.Provider value={ctx}>
      <div class="shell" key={session.user.id} hidden={locked} aria-hidden={locked}>
        <header class="topbar">
          <div class="brand">
            <strong>{info.storeName}</strong>
            <span class="muted">{info.branchCode} · Till {info.deviceCode}</span>
          </div>
          <div class="topbar-right">
            <button
              type="button"
              class={'sync-indicator ' + ind.state}
              data-testid="sync-indicator"
              data-state={ind.state}
              data-pending={String(ind.pending)}
              title={ind.detail}
              onClick={() => setView('sync')}
            >
              <span class="dot" aria-hidden="true" />{ind.label}
            </button>
            <button type="button" class="user-chip" data-testid="current-user" title="Change my PIN" onClick={() => setChangingPin(true)}>
              {session.user.name} <span class="muted small">{session.user.role}</span>
            </button>
            <button type="button" class="lock" data-testid="lock-button" onClick={lockClicked}>Lock</button>
          </div>
        </header>
        <nav class="sidenav" aria-label="Main">
          {nav.map((n) => (
            <button type="button" key={n.view} data-testid={`nav-${n.view}`} class={current === n.view ? 'active' : ''} onClick={() => setView(n.view)}>
              {n.label}
            </button>
          ))}
        </nav>
        <main class="content">
          {can.sell ? <div hidden={current !== 'sales'} class="screen-host"><Sales active={!locked && current === 'sales'} /></div> : null}
          {current === 'receipts' ? <Receipts /> : null}
          {current === 'products' ? <Products /> : null}
          {current === 'transfers' ? <Transfers /> : null}
          {current === 'expenses' ? <Expenses /> : null}
          {current === 'customers' ? <Customers /> : null}
          {current === 'users' ? <Users /> : null}
          {current === 'reports' ? <Reports /> : null}
          {current === 'settings' ? <Settings /> : null}
          {current === 'sync' ? <SyncPage /> : null}
        </main>
        {changingPin ? <ChangeOwnPin onClose={() => setChangingPin(false)} /> : null}
      </div>
      {locked ? <SignIn info={info} locked={session.user} onSession={onSession} /> : null}
      {bannerArea}
    </AppContext.Provider>
  );
}

/** What every screen may read from the app: the till, the user, the notifier. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { AppInfo, CommandError, Session, SyncStatusView } from './types';

export interface AppContextValue {
  info: AppInfo;
  session: Session;
  currency: string;
  sync: SyncStatusView | null;
  setSync: (s: SyncStatusView) => void;
  /** Shows a rejected command's message (or any sentence) in the error banner. */
  showError: (e: CommandError | string) => void;
  /** Shows a short confirmation. */
  notify: (text: string) => void;
  /** Whether the main screens are visible (not behind the lock screen). */
  active: boolean;
  /** Re-reads app info (store name, auto-lock minutes) after settings change. */
  refreshInfo: () => void;
  /** Updates the signed-in session (e.g. after editing own user). */
  setSession: (s: Session) => void;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const v = useContext(AppContext);
  if (!v) throw new Error('useApp outside AppContext');
  return v;
}

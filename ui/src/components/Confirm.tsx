/** A confirmation dialog (the webview's window.confirm is not dependable in Tauri). */
import { useCallback, useState } from 'preact/hooks';
import type { VNode } from 'preact';
import { Dialog } from './Dialog';

interface Ask { text: string; action: string; resolve: (ok: boolean) => void; danger: boolean }

export function useConfirm(): [VNode | null, (text: string, action?: string, danger?: boolean) => Promise<boolean>] {
  const [ask, setAsk] = useState<Ask | null>(null);
  const confirm = useCallback(
    (text: string, action = 'OK', danger = true) => new Promise<boolean>((resolve) => setAsk({ text, action, resolve, danger })),
    [],
  );
  const close = (ok: boolean) => {
    ask?.resolve(ok);
    setAsk(null);
  };
  const el = ask ? (
    <Dialog title="Please confirm" onClose={() => close(false)} testId="confirm-dialog">
      <p>{ask.text}</p>
      <div class="dialog-actions">
        <button type="button" class="secondary" onClick={() => close(false)}>Cancel</button>
        <button type="button" class={ask.danger ? 'danger' : 'primary'} data-testid="confirm-ok" autoFocus onClick={() => close(true)}>{ask.action}</button>
      </div>
    </Dialog>
  ) : null;
  return [el, confirm];
}

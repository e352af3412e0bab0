import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

interface Props {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  testId?: string;
  wide?: boolean;
  /** When false, Esc and the backdrop do nothing (e.g. while saving). */
  closable?: boolean;
}

/** A modal dialog: Esc closes it, focus moves inside on open. */
export function Dialog({ title, onClose, children, testId, wide, closable = true }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    const first = el?.querySelector<HTMLElement>('[autofocus], input, select, textarea, button.primary');
    first?.focus();
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && closable) {
        e.preventDefault();
        e.stopPropagation();
        onClose();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose, closable]);
  return (
    <div class="backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget && closable) onClose(); }}>
      <div class={'dialog' + (wide ? ' wide' : '')} role="dialog" aria-modal="true" aria-label={title} data-testid={testId} ref={ref}>
        <header class="dialog-head">
          <h2>{title}</h2>
          <button type="button" class="ghost close" aria-label="Close" onClick={onClose} disabled={!closable}>×</button>
        </header>
        <div class="dialog-body">{children}</div>
      </div>
    </div>
  );
}

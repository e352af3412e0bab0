import type { ComponentChildren } from 'preact';
import { formatMoney } from '../lib/money';
import { useApp } from '../context';

export function Money({ minor, class: cls }: { minor: number; class?: string }) {
  const { currency } = useApp();
  return <span class={'money ' + (cls ?? '')}>{formatMoney(minor, currency)}</span>;
}

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint ? <span class="field-hint">{hint}</span> : null}
    </label>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function PageHead({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      <div class="page-actions">{children}</div>
    </div>
  );
}

/**
 * Shows an API key without revealing it: the prefix up to the first `_`,
 * six dots, and the last four characters (`whiz_••••••3f9a`).
 */
export function maskApiKey(key: string | null | undefined): string {
  const k = (key ?? '').trim();
  if (!k) return '';
  const us = k.indexOf('_');
  const prefix = us >= 0 && us < 10 ? k.slice(0, us + 1) : '';
  const rest = k.slice(prefix.length);
  if (rest.length <= 8) return prefix + '••••••';
  return prefix + '••••••' + rest.slice(-4);
}

/** Whether a text is a mask (so saving it again must not replace the key). */
export function looksMasked(text: string): boolean {
  return text.includes('•');
}

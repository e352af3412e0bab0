/** The expense form's category suggestions: the branch's own, then the defaults. */

export const DEFAULT_EXPENSE_CATEGORIES = ['Supplies', 'Transport', 'Utilities', 'Wages', 'Repairs', 'Rent', 'Other'];

/**
 * The categories the branch has used, then the defaults it has not,
 * trimmed, without blanks, de-duplicated case-insensitively (the first
 * spelling wins, so the branch's own spelling beats a default's).
 */
export function mergeCategories(used: readonly string[], defaults: readonly string[] = DEFAULT_EXPENSE_CATEGORIES): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of [...used, ...defaults]) {
    const c = raw.trim().replace(/\s+/g, ' ');
    const key = c.toLocaleLowerCase();
    if (!c || seen.has(key)) continue;
    seen.add(key);
    out.push(c);
  }
  return out;
}

/** What the user typed, tidied, in the known spelling when it matches one case-insensitively. */
export function canonicalCategory(typed: string, known: readonly string[]): string {
  const c = typed.trim().replace(/\s+/g, ' ');
  const key = c.toLocaleLowerCase();
  return known.find((k) => k.toLocaleLowerCase() === key) ?? c;
}

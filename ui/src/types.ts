/**
 * The contract's types, as the screens import them: re-exported from the
 * generated `bindings.ts` (from `crates/pos-app/src/api.rs`), never redefined.
 */
export type * from './bindings';

import { describe, expect, it } from 'vitest';
import { isSessionError, toCommandError } from './api';

describe('toCommandError', () => {
  it('keeps a well-formed command error', () => {
    expect(toCommandError({ code: 'credit_limit', message: 'Over the limit.' })).toEqual({ code: 'credit_limit', message: 'Over the limit.' });
  });
  it('turns anything else into internal with a message', () => {
    expect(toCommandError({ code: 'made_up', message: 'x' })).toEqual({ code: 'internal', message: 'Something went wrong.' });
    expect(toCommandError(new Error('boom'))).toEqual({ code: 'internal', message: 'boom' });
    expect(toCommandError('plain text')).toEqual({ code: 'internal', message: 'plain text' });
    expect(toCommandError(undefined).code).toBe('internal');
  });
  it('recognises session errors', () => {
    expect(isSessionError({ code: 'locked', message: '' })).toBe(true);
    expect(isSessionError({ code: 'not_signed_in', message: '' })).toBe(true);
    expect(isSessionError({ code: 'forbidden', message: '' })).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { REQUEST_LIMITS, RequestError } from '../plan/plan.js';
import { boundedJson } from './broker.js';

describe('boundedJson', () => {
  const most = REQUEST_LIMITS.maxArgs + 3 * REQUEST_LIMITS.maxEnvironmentEntries + 64;
  it('refuses a request with more values than any request holds, before JSON.parse sees it', () => {
    expect(() => boundedJson(Buffer.from(`[${'{},'.repeat(most)}{}]`))).toThrow(RequestError);
  });
  it('counts only structure: commas and brackets inside strings, escaped quotes included, are text', () => {
    const text = JSON.stringify({ argv: [`a\\"${','.repeat(most + 10)}[{`] });
    expect(boundedJson(Buffer.from(text))).toBe(text);
  });
  it('passes the largest legal shape', () => {
    const argv = Array.from({ length: REQUEST_LIMITS.maxArgs }, () => 'x');
    const environment = Array.from({ length: REQUEST_LIMITS.maxEnvironmentEntries }, () => ['A', 'b']);
    const text = JSON.stringify({ kind: 'service', argv, environment });
    expect(boundedJson(Buffer.from(text))).toBe(text);
  });
});

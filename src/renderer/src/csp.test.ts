import { describe, expect, it } from 'vitest';
import { RENDERER_CSP } from '../../shared/csp';
import html from '../index.html?raw';

describe('index.html', () => {
  it('carries the same CSP that main sends as a header (src/shared/csp.ts)', () => {
    const m = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/.exec(html);
    expect(m?.[1]).toBe(RENDERER_CSP);
  });
  it('loads no inline script', () => {
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });
});

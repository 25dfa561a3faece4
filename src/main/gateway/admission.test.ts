import { describe, expect, it } from 'vitest';
import { HandshakeBudget, sourcePrefix } from './admission';

describe('sourcePrefix', () => {
  it('keys IPv4 by address and IPv6 by its /64, whatever the spelling', () => {
    expect(sourcePrefix('127.0.0.7')).toBe('127.0.0.7');
    expect(sourcePrefix('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(sourcePrefix('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(sourcePrefix('2001:0DB8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(sourcePrefix('2001:db8::1:2:3:4')).toBe('2001:db8:0:0::/64');
    expect(sourcePrefix('::1')).toBe('0:0:0:0::/64');
    expect(sourcePrefix('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});

describe('HandshakeBudget', () => {
  const limits = { maxHandshakes: 5, maxHandshakesPerSource: 2, oversizePenaltyMs: 10_000 };

  it('limits handshakes per source prefix and in total, and frees a slot exactly once', () => {
    const b = new HandshakeBudget(limits);
    const a1 = b.admit('2001:db8::1', 0);
    const a2 = b.admit('2001:db8::2', 0);
    // Same /64: a third address of that prefix is refused, another prefix is not.
    expect(b.admit('2001:db8::3', 0).ok).toBe(false);
    expect(b.admit('2001:db8:0:2::1', 0).ok).toBe(true);
    expect(b.admit('10.0.0.1', 0).ok).toBe(true);
    expect(b.admit('10.0.0.2', 0).ok).toBe(true);
    expect(b.admit('10.0.0.3', 0)).toMatchObject({ ok: false });
    if (!a1.ok || !a2.ok) throw new Error('admitted');
    b.release(a1.ticket);
    b.release(a1.ticket);
    expect(b.pending).toBe(4);
    expect(b.admit('2001:db8::3', 0).ok).toBe(true);
  });

  it('lets a penalised prefix through once per second until the penalty ends', () => {
    const b = new HandshakeBudget({ ...limits, maxHandshakesPerSource: 100, maxHandshakes: 100 });
    b.penalize('10.0.0.9', 0);
    expect(b.admit('10.0.0.9', 500).ok).toBe(false);
    expect(b.admit('10.0.0.9', 1000).ok).toBe(true);
    expect(b.admit('10.0.0.9', 1500).ok).toBe(false);
    expect(b.admit('10.0.0.8', 1500).ok).toBe(true);
    expect(b.admit('10.0.0.9', 10_000).ok).toBe(true);
    expect(b.admit('10.0.0.9', 10_001).ok).toBe(true);
  });
});

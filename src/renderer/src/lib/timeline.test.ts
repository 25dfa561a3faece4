import { describe, expect, it } from 'vitest';
import { timelineModel } from './timeline';

const DAY = 86_400_000;
const now = Date.parse('2025-06-01T00:00:00Z');
const iso = (t: number) => new Date(t).toISOString();

describe('timelineModel', () => {
  const model = timelineModel({
    now,
    ca: { notBefore: iso(now - 365 * DAY), notAfter: iso(now + 9 * 365 * DAY) },
    server: { notBefore: iso(now - 10 * DAY), notAfter: iso(now + 80 * DAY) },
    clients: [
      // 40 of 42 days gone: overdue. A fresh 24-hour certificate is not an emergency.
      { serial: 'a', name: 'alice', notBefore: iso(now - 40 * DAY), notAfter: iso(now + 2 * DAY) },
      { serial: 'd', name: 'dave', notBefore: iso(now - DAY / 24), notAfter: iso(now + DAY) },
      { serial: 'c', name: 'carol', notBefore: iso(now - 20 * DAY), notAfter: iso(now + 7 * DAY) },
      { serial: 'b', name: 'bob', notBefore: iso(now - DAY), notAfter: iso(now + 60 * DAY) },
    ],
  });
  it('places today about a tenth of the way through a 10-year CA', () => {
    expect(model.ca.today).toBeCloseTo(0.1, 2);
    expect(model.ca.ticks.length).toBeGreaterThanOrEqual(9);
    expect(model.ca.zoomFrom).toBeLessThan(model.ca.today);
    expect(model.ca.zoomTo).toBeGreaterThan(model.ca.today);
  });
  it('draws the server cert, its next planned 90-day period, and clients by expiry', () => {
    const server = model.zoom.bars.find((b) => b.id === 'server');
    expect(server?.planned).toBe(false);
    expect(server?.level).toBe('ok');
    const planned = model.zoom.bars.filter((b) => b.planned);
    expect(planned.length).toBe(1);
    expect(planned[0]?.from).toBeCloseTo(server?.to ?? -1, 6);
    const clients = model.zoom.bars.filter((b) => b.id.startsWith('client-'));
    expect(clients.map((c) => c.label)).toEqual(['dave', 'alice', 'carol', 'bob']);
    expect(clients.map((c) => c.level)).toEqual(['ok', 'danger', 'warn', 'ok']);
    expect(model.zoom.today).toBeCloseTo(30 / 180, 6);
  });
});

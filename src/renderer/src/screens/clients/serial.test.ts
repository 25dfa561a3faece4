import { describe, expect, it } from 'vitest';
import { findBySerial, matchesClientFilter, normalizeSerialInput, serialColons } from './serial';

const SERIAL = '4f0a9c1e2b3d4c5e6f708192a3b4c5d6';
const COLONS = '4F:0A:9C:1E:2B:3D:4C:5E:6F:70:81:92:A3:B4:C5:D6';

describe('normalizeSerialInput: every common spelling', () => {
  it.each([
    [SERIAL],
    [SERIAL.toUpperCase()],
    [`serial=${SERIAL.toUpperCase()}`],
    [`Serial Number: ${COLONS}`],
    [`0x${SERIAL}`],
    [`0X${SERIAL.toUpperCase()}`],
    [COLONS],
    [COLONS.toLowerCase()],
    [COLONS.replace(/:/g, ' ')],
    [`  ${SERIAL}\n`],
  ])('%s', (text) => {
    expect(normalizeSerialInput(text)).toBe(SERIAL);
  });
  it('refuses what is not a serial', () => {
    for (const bad of ['', '   ', 'serial=', 'xyz', '0x', '12g4', 'a'.repeat(41), 'alice@ops'])
      expect(normalizeSerialInput(bad)).toBeNull();
  });
});

describe('findBySerial / matchesClientFilter', () => {
  const rows = [
    { serial: SERIAL, name: 'alice@ops' },
    { serial: '0a1b', name: 'bob' },
  ];
  it('finds a row by any spelling, leading zeros or not', () => {
    expect(findBySerial(rows, `serial=${SERIAL.toUpperCase()}`)?.name).toBe('alice@ops');
    expect(findBySerial(rows, COLONS)?.name).toBe('alice@ops');
    expect(findBySerial(rows, '0x0A1B')?.name).toBe('bob');
    expect(findBySerial(rows, 'a1b')?.name).toBe('bob');
    expect(findBySerial(rows, '00:0a:1b')?.name).toBe('bob');
    expect(findBySerial(rows, 'ffff')).toBeUndefined();
  });
  it('filters by name or by a serial fragment in any spelling', () => {
    const match = (q: string) => rows.filter((r) => matchesClientFilter(r, q)).map((r) => r.name);
    expect(match('')).toEqual(['alice@ops', 'bob']);
    expect(match('ALICE')).toEqual(['alice@ops']);
    expect(match(COLONS)).toEqual(['alice@ops']);
    expect(match('9C:1E:2B')).toEqual(['alice@ops']);
    expect(match(`serial=${SERIAL.toUpperCase()}`)).toEqual(['alice@ops']);
    expect(match('0x0a1b')).toEqual(['bob']);
    expect(match('nobody')).toEqual([]);
  });
  it('shows a serial as colon-separated pairs', () => {
    expect(serialColons('a1b')).toBe('0a:1b');
    expect(serialColons(SERIAL).toUpperCase()).toBe(COLONS);
  });
});

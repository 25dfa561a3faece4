import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuditFilter, AuditPage, AuditRecord } from '../../../shared/model';
import { EMPTY_AUDIT_DRAFT, actorName } from '../lib/audit-filter';
import { rec } from '../lib/audit.fixture';
import { createAuditStore, type AuditQuery } from './audit';

vi.mock('../api', () => ({ call: () => Promise.reject(new Error('no main in unit tests')) }));
vi.mock('../lib/useAction', () => ({ reportError: () => undefined }));

type Input = Parameters<AuditQuery>[0];

const alice = { kind: 'client', cn: 'alice', serial: 'aa01' } as const;
const bob = { kind: 'client', cn: 'bob', serial: 'bb02' } as const;
const ops = { kind: 'operator', name: 'ops' } as const;

function record(seq: number): AuditRecord {
  const type = seq % 3 === 0 ? 'gateway.connection.refused' : 'gateway.request';
  const time = new Date(Date.UTC(2025, 0, 1) + seq * 1000).toISOString();
  return rec(seq, type, seq % 2 === 0 ? alice : bob, { time });
}

/** Main's side, simplified: the contract's filter rules over an in-memory log (oldest first). */
function serverMatch(f: AuditFilter, r: AuditRecord): boolean {
  if (f.type !== undefined && !r.type.startsWith(f.type)) return false;
  if (f.cn !== undefined && r.cn !== f.cn) return false;
  if (f.serial !== undefined && r.serial !== f.serial) return false;
  if (f.actor !== undefined && actorName(r.actor) !== f.actor) return false;
  if (f.from !== undefined && Date.parse(r.time) < Date.parse(f.from)) return false;
  if (f.to !== undefined && Date.parse(r.time) > Date.parse(f.to)) return false;
  if (f.text !== undefined && !JSON.stringify(r).toLowerCase().includes(f.text.toLowerCase())) return false;
  return true;
}

function fakeMain(n: number) {
  const log: AuditRecord[] = [];
  for (let i = 1; i <= n; i++) log.push(record(i));
  const inputs: Input[] = [];
  /** Answers computed when asked (main's snapshot), delivered when the test says, when held. */
  const held: { page: AuditPage; resolve: (p: AuditPage) => void }[] = [];
  let holding = false;
  const answer = (input: Input): AuditPage => {
    const f = input.filter ?? {};
    const limit = input.limit ?? 200;
    const out: AuditRecord[] = [];
    let total = 0;
    for (let i = log.length - 1; i >= 0; i--) {
      const r = log[i] as AuditRecord;
      if (!serverMatch(f as AuditFilter, r)) continue;
      total++;
      if (input.before !== undefined && r.seq >= input.before) continue;
      out.push(r);
    }
    const records = out.slice(0, limit);
    const more = out.length > limit;
    return { records, total, nextCursor: more ? (records[records.length - 1] as AuditRecord).seq : null };
  };
  const query: AuditQuery = (input) => {
    inputs.push(input);
    const page = answer(input);
    if (!holding) return Promise.resolve(page);
    return new Promise<AuditPage>((resolve) => held.push({ page, resolve }));
  };
  return {
    log,
    inputs,
    query,
    hold: () => {
      holding = true;
    },
    /** Delivers the i-th held answer (in the order asked). */
    release: (i: number) => {
      const h = held[i];
      if (!h) throw new Error(`no held answer ${i}`);
      h.resolve(h.page);
    },
    /** Writes records to the log, as main does before it sends `audit.appended`. */
    write: (...rs: AuditRecord[]) => {
      log.push(...rs);
      return rs;
    },
  };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(n: number, opts: { maxLoaded?: number } = {}) {
  const main = fakeMain(n);
  const errors: unknown[] = [];
  const store = createAuditStore({
    query: main.query,
    onError: (e) => errors.push(e),
    pageSize: 50,
    ...opts,
  });
  return { main, store, errors, s: () => store.getState() };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('audit store: pages', () => {
  it('opens with the newest page and the whole log’s size, never the whole log', async () => {
    const { main, s } = setup(1000);
    s().open();
    expect(s().status).toBe('loading');
    await settle();
    expect(main.inputs).toEqual([{ limit: 50 }, { limit: 1 }]);
    expect(s().status).toBe('ready');
    expect(
      s()
        .records.map((r) => r.seq)
        .slice(0, 3),
    ).toEqual([1000, 999, 998]);
    expect(s().records).toHaveLength(50);
    expect(s().total).toBe(1000);
    expect(s().allTotal).toBe(1000);
    expect(s().nextCursor).toBe(951);
  });

  it('loads older pages with before: nextCursor until there are none', async () => {
    const { main, s } = setup(120);
    s().open();
    await settle();
    s().loadMore();
    s().loadMore(); // one page at a time
    await settle();
    expect(main.inputs.at(-1)).toEqual({ before: 71, limit: 50 });
    expect(main.inputs.filter((i) => i.before !== undefined)).toHaveLength(1);
    s().loadMore();
    await settle();
    expect(s().records.map((r) => r.seq)).toEqual(Array.from({ length: 120 }, (_, i) => 120 - i));
    expect(s().nextCursor).toBeNull();
    const asked = main.inputs.length;
    s().loadMore();
    await settle();
    expect(main.inputs).toHaveLength(asked);
  });
});

describe('audit store: filters', () => {
  it('re-queries once after the typing pauses, with the normalized filter', async () => {
    const { main, s } = setup(300);
    s().open();
    await settle();
    const before = main.inputs.length;
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, cn: 'a' });
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, cn: 'al' });
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, cn: 'alice ' });
    expect(s().status).toBe('loading'); // dimmed at once
    vi.advanceTimersByTime(249);
    expect(main.inputs).toHaveLength(before);
    vi.advanceTimersByTime(1);
    await settle();
    expect(main.inputs.slice(before)).toEqual([{ filter: { cn: 'alice' }, limit: 50 }]);
    expect(s().status).toBe('ready');
    expect(s().total).toBe(150);
    expect(s().allTotal).toBe(300);
    expect(s().records.every((r) => r.cn === 'alice')).toBe(true);
  });

  it('drops an answer that arrives after a newer query was sent', async () => {
    const { main, s } = setup(300);
    s().open();
    await settle();
    main.hold();
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, cn: 'alice' }, { immediate: true });
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, cn: 'bob' }, { immediate: true });
    main.release(1);
    await settle();
    main.release(0); // the stale one, late
    await settle();
    expect(s().filter).toEqual({ cn: 'bob' });
    expect(s().records.every((r) => r.cn === 'bob')).toBe(true);
  });

  it('drops an older page that arrives after the filter changed', async () => {
    const { main, s } = setup(300);
    s().open();
    await settle();
    main.hold();
    s().loadMore();
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, type: 'gateway.connection' }, { immediate: true });
    main.release(1);
    await settle();
    main.release(0);
    await settle();
    expect(s().records).toHaveLength(50);
    expect(s().records.every((r) => r.type === 'gateway.connection.refused')).toBe(true);
    expect(s().loadingMore).toBe(false);
  });

  it('sends nothing for a draft main would refuse, and says why', async () => {
    const { main, s } = setup(10);
    s().open();
    await settle();
    const before = main.inputs.length;
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, serial: 'not-hex' });
    vi.advanceTimersByTime(1000);
    await settle();
    expect(main.inputs).toHaveLength(before);
    expect(s().draftError?.field).toBe('serial');
    expect(s().status).toBe('ready');
  });

  it('does not re-query when the filter normalizes to the one shown', async () => {
    const { main, s } = setup(10);
    s().open();
    await settle();
    const before = main.inputs.length;
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, cn: '  ' });
    vi.advanceTimersByTime(1000);
    await settle();
    expect(main.inputs).toHaveLength(before);
  });
});

describe('audit store: live records', () => {
  it('puts matching records on top and grows both counts; others grow only the whole count', async () => {
    const { main, s } = setup(100);
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, cn: 'alice' }, { immediate: true });
    s().open();
    await settle();
    expect(s().total).toBe(50);
    const fresh = main.write(
      rec(101, 'gateway.request', bob),
      rec(102, 'gateway.request', alice),
      rec(103, 'client.revoked', ops, { cn: 'alice', serial: 'aa01' }),
    );
    s().appendLive(fresh);
    expect(
      s()
        .records.slice(0, 3)
        .map((r) => r.seq),
    ).toEqual([103, 102, 100]);
    expect(s().total).toBe(52);
    expect(s().allTotal).toBe(103);
    s().appendLive(fresh); // a repeat changes nothing
    expect(s().total).toBe(52);
    expect(s().allTotal).toBe(103);
  });

  it('holds records that arrive while the first page is in flight and keeps only the newer ones', async () => {
    const { main, s } = setup(100);
    const early = main.write(rec(101, 'gateway.request', alice)); // in main's answer already…
    main.hold();
    s().open();
    main.release(0);
    main.release(1);
    s().appendLive(early); // …its event delivered while the answer is on its way
    const late = main.write(rec(102, 'gateway.request', alice)); // after main answered
    s().appendLive(late);
    expect(s().records).toEqual([]);
    await settle();
    expect(
      s()
        .records.slice(0, 3)
        .map((r) => r.seq),
    ).toEqual([102, 101, 100]);
    expect(s().total).toBe(102);
    expect(s().allTotal).toBe(102);
  });

  it('fetches the top again when a record cannot be judged here', async () => {
    const { main, s } = setup(100);
    s().open();
    await settle();
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, text: 'Ålice' }, { immediate: true });
    await settle();
    expect(s().total).toBe(0);
    const before = main.inputs.length;
    // Beyond ASCII, main's case folding is not ours to guess.
    s().appendLive(main.write(rec(101, 'gateway.request', alice, { details: { note: 'ålice' } })));
    expect(s().records).toEqual([]);
    vi.advanceTimersByTime(500);
    await settle();
    expect(main.inputs.slice(before)).toEqual([{ filter: { text: 'Ålice' }, limit: 50 }]);
    expect(s().records.map((r) => r.seq)).toEqual([101]);
    expect(s().total).toBe(1);
  });

  it('keeps nothing while the panel is away, and reloads the top when it returns', async () => {
    const { main, s } = setup(100);
    s().open();
    await settle();
    s().close();
    s().appendLive(main.write(rec(101, 'gateway.request', alice)));
    expect(s().records[0]?.seq).toBe(100);
    expect(s().allTotal).toBe(101);
    s().open();
    await settle();
    expect(s().records[0]?.seq).toBe(101);
    expect(s().total).toBe(101);
  });

  it('bounds what it holds: the oldest loaded records make way and stay reachable by paging', async () => {
    const { main, s } = setup(100, { maxLoaded: 60 });
    s().open();
    await settle();
    s().loadMore();
    await settle();
    expect(s().records).toHaveLength(60 + 40);
    s().appendLive(main.write(...[101, 102].map((i) => rec(i, 'gateway.request', alice))));
    expect(s().records).toHaveLength(60);
    expect(s().nextCursor).toBe(43);
    s().loadMore();
    await settle();
    expect(main.inputs.at(-1)).toEqual({ before: 43, limit: 50 });
    expect(s().records.at(-1)?.seq).toBe(1);
  });
});

describe('audit store: follow, pause, detail, showFor', () => {
  it('counts live records while paused and brings them in on resume', async () => {
    const { main, s } = setup(100);
    s().open();
    await settle();
    s().setPaused(true);
    s().appendLive(main.write(...[101, 102].map((i) => rec(i, 'gateway.request', alice))));
    expect(s().records[0]?.seq).toBe(100);
    expect(s().heldLive).toBe(2);
    expect(s().allTotal).toBe(102);
    s().setPaused(false);
    expect(s().heldLive).toBe(0);
    await settle();
    expect(
      s()
        .records.slice(0, 3)
        .map((r) => r.seq),
    ).toEqual([102, 101, 100]);
    expect(s().total).toBe(102);
    // Following again: the next record lands on top at once.
    s().appendLive(main.write(rec(103, 'gateway.request', alice)));
    expect(s().records[0]?.seq).toBe(103);
  });

  it('holds back only records the filter may match', async () => {
    const { main, s } = setup(100);
    s().open();
    await settle();
    s().setDraft({ ...EMPTY_AUDIT_DRAFT, cn: 'alice' }, { immediate: true });
    await settle();
    s().setPaused(true);
    s().appendLive(main.write(rec(101, 'gateway.request', bob), rec(102, 'gateway.request', alice)));
    expect(s().heldLive).toBe(1);
  });

  it('keeps the selected record open, and showFor filters by serial and shows the panel', async () => {
    const main = fakeMain(100);
    let shown = 0;
    const store = createAuditStore({
      query: main.query,
      onError: () => undefined,
      pageSize: 50,
      onShow: () => shown++,
    });
    const s = () => store.getState();
    s().open();
    await settle();
    const r = s().records[3] as AuditRecord;
    s().select(r);
    expect(s().selected).toBe(r);
    s().showFor({ serial: 'AA:01', cn: 'alice' });
    expect(shown).toBe(1);
    expect(s().selected).toBeNull();
    expect(s().draft.serial).toBe('AA:01');
    await settle();
    expect(s().filter).toEqual({ serial: 'aa01' });
    expect(main.inputs.at(-1)).toEqual({ filter: { serial: 'aa01' }, limit: 50 });
    expect(s().records.every((x) => x.serial === 'aa01')).toBe(true);
    s().showFor({ cn: 'bob' });
    await settle();
    expect(s().filter).toEqual({ cn: 'bob' });
  });
});

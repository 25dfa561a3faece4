import { spread, type Spread } from '../stats';

/**
 * The gateway benchmark's table: for each figure, ours and nginx as median [min–max] over the
 * interleaved rounds, and the ratio as the median [min–max] of the per-round ratios (each round
 * measures both servers back to back, so its ratio is less exposed to load from elsewhere).
 */

export interface Row {
  readonly label: string;
  readonly ours: readonly number[];
  /** Empty when nginx has no counterpart (e.g. our `serve` process alone). */
  readonly nginx: readonly number[];
  readonly unit: string;
  readonly digits: number;
  /** The goal for ours/nginx. */
  readonly goal?: { readonly op: '≥' | '≤'; readonly ratio: number };
  /** false: the ratio means nothing here (e.g. how busy a core was). */
  readonly ratio?: false;
  /** A goal on ours alone (e.g. RSS ≤ 64 MiB). */
  readonly absGoal?: { readonly op: '≤'; readonly value: number };
}

const LABEL = 46;
const CELL = 24;
const RATIO = 18;

export function renderTable(rows: readonly Row[]): string[] {
  const out = [
    `${'figure'.padEnd(LABEL)}${'ours'.padStart(CELL)}${'nginx'.padStart(CELL)}  ${'unit'.padEnd(7)}${'ours/nginx'.padStart(RATIO)}  goal`,
  ];
  for (const r of rows) {
    const ratios =
      r.nginx.length === 0 || r.ratio === false ? [] : r.ours.map((x, i) => x / (r.nginx[i] ?? NaN));
    const rs = spread(ratios);
    let goal = '';
    if (r.goal) {
      const met = r.goal.op === '≥' ? rs.median >= r.goal.ratio : rs.median <= r.goal.ratio;
      goal = `${r.goal.op} ${r.goal.ratio.toFixed(2)}× ${met ? '[met]' : '[MISSED]'}`;
    } else if (r.absGoal) {
      const met = spread(r.ours).median <= r.absGoal.value;
      goal = `${r.absGoal.op} ${r.absGoal.value} ${r.unit} ${met ? '[met]' : '[MISSED]'}`;
    }
    out.push(
      `${r.label.padEnd(LABEL)}${cell(spread(r.ours), r.digits).padStart(CELL)}${cell(spread(r.nginx), r.digits).padStart(CELL)}  ${r.unit.padEnd(7)}${cell(rs, 2).padStart(RATIO)}  ${goal}`.trimEnd(),
    );
  }
  return out;
}

function cell(s: Spread, digits: number): string {
  if (!Number.isFinite(s.median)) return '—';
  return `${num(s.median, digits)} [${num(s.min, digits)}–${num(s.max, digits)}]`;
}

export const num = (x: number, digits: number): string =>
  Number.isFinite(x)
    ? x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '—';

import { DAY_MS } from '../../../shared/validation';
import { countdownLevel, type CountdownLevel } from './countdown';

/**
 * Geometry of the Dashboard's rotation timeline, as fractions (0..1) of each track's width, so the
 * SVG component only scales. Two tracks: the CA's whole lifetime (10 years), and a zoomed window
 * around today where the 90-day server and client schedule is readable.
 */
export interface Tick {
  readonly frac: number;
  readonly label: string;
}
export interface Bar {
  readonly id: string;
  readonly label: string;
  readonly from: number;
  readonly to: number;
  readonly level: CountdownLevel;
  /** A planned, not yet issued period (the next rotation on the 90-day schedule). */
  readonly planned: boolean;
}
export interface TimelineModel {
  readonly ca: {
    readonly today: number;
    readonly ticks: Tick[];
    readonly zoomFrom: number;
    readonly zoomTo: number;
    readonly level: CountdownLevel;
  };
  readonly zoom: {
    readonly today: number;
    readonly ticks: Tick[];
    readonly bars: Bar[];
    readonly hiddenClients: number;
  };
}

export interface TimelineInput {
  readonly now: number;
  readonly ca: { readonly notBefore: string; readonly notAfter: string };
  readonly server: { readonly notBefore: string; readonly notAfter: string } | null;
  readonly clients: readonly {
    readonly serial: string;
    readonly name: string;
    readonly notBefore: string;
    readonly notAfter: string;
  }[];
}

export const ZOOM_BEFORE_DAYS = 30;
export const ZOOM_AFTER_DAYS = 150;
export const ROTATION_DAYS = 90;
export const MAX_CLIENT_BARS = 6;

const clamp = (v: number) => Math.min(1, Math.max(0, v));
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function timelineModel(input: TimelineInput): TimelineModel {
  const { now } = input;
  const caFrom = Date.parse(input.ca.notBefore);
  const caTo = Date.parse(input.ca.notAfter);
  const caSpan = Math.max(1, caTo - caFrom);
  const caFrac = (t: number) => clamp((t - caFrom) / caSpan);

  const caTicks: Tick[] = [];
  const startYear = new Date(caFrom).getUTCFullYear() + 1;
  for (let y = startYear; Date.UTC(y, 0, 1) < caTo; y++) {
    caTicks.push({ frac: caFrac(Date.UTC(y, 0, 1)), label: String(y) });
  }

  const zFrom = now - ZOOM_BEFORE_DAYS * DAY_MS;
  const zTo = now + ZOOM_AFTER_DAYS * DAY_MS;
  const zFrac = (t: number) => clamp((t - zFrom) / (zTo - zFrom));

  const zTicks: Tick[] = [];
  const d = new Date(zFrom);
  let m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).getTime();
  while (m < zTo) {
    const md = new Date(m);
    zTicks.push({ frac: zFrac(m), label: `${MONTHS[md.getUTCMonth()]} ${md.getUTCFullYear() % 100}` });
    m = Date.UTC(md.getUTCFullYear(), md.getUTCMonth() + 1, 1);
  }

  const bars: Bar[] = [];
  if (input.server) {
    const sTo = Date.parse(input.server.notAfter);
    bars.push({
      id: 'server',
      label: 'Server cert',
      from: zFrac(Date.parse(input.server.notBefore)),
      to: zFrac(sTo),
      level: countdownLevel(input.server, now),
      planned: false,
    });
    // The next periods on the 90-day schedule, while they still fall inside the window.
    let next = sTo;
    while (next < zTo) {
      bars.push({
        id: `server-next-${next}`,
        label: 'Server cert',
        from: zFrac(next),
        to: zFrac(Math.min(next + ROTATION_DAYS * DAY_MS, caTo)),
        level: 'ok',
        planned: true,
      });
      next += ROTATION_DAYS * DAY_MS;
    }
  }
  const sorted = [...input.clients].sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter));
  for (const c of sorted.slice(0, MAX_CLIENT_BARS)) {
    bars.push({
      id: `client-${c.serial}`,
      label: c.name,
      from: zFrac(Date.parse(c.notBefore)),
      to: zFrac(Date.parse(c.notAfter)),
      level: countdownLevel(c, now),
      planned: false,
    });
  }

  return {
    ca: {
      today: caFrac(now),
      ticks: caTicks,
      zoomFrom: caFrac(zFrom),
      zoomTo: caFrac(zTo),
      level: countdownLevel(input.ca, now),
    },
    zoom: {
      today: zFrac(now),
      ticks: zTicks,
      bars,
      hiddenClients: Math.max(0, sorted.length - MAX_CLIENT_BARS),
    },
  };
}

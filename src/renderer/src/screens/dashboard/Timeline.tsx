import { memo } from 'react';
import type { ClientRecord, StatusInfo } from '../../../../shared/model';
import { timelineModel, type Bar } from '../../lib/timeline';

const W = 880;
const PAD_L = 110;
const PAD_R = 16;
const TRACK_W = W - PAD_L - PAD_R;
const ROW_H = 22;

interface TimelineProps {
  readonly status: StatusInfo;
  readonly clients: readonly ClientRecord[];
  readonly now: number;
}

const x = (frac: number) => PAD_L + frac * TRACK_W;

function BarRect({ bar, y }: { readonly bar: Bar; readonly y: number }) {
  const w = Math.max(2, (bar.to - bar.from) * TRACK_W);
  return (
    <rect
      x={x(bar.from)}
      y={y}
      width={w}
      height={ROW_H - 8}
      rx={3}
      className={bar.planned ? 'tl-bar tl-planned' : `tl-bar tl-${bar.level}`}
    >
      <title>{bar.planned ? `${bar.label}: next rotation (planned)` : bar.label}</title>
    </rect>
  );
}

/**
 * The rotation picture: the CA's 10-year lifetime on top, and below it a zoomed window of a few
 * months where the 90-day server schedule and the client certificates are visible. Today is marked.
 */
export const Timeline = memo(function Timeline({ status, clients, now }: TimelineProps) {
  if (!status.ca) return null;
  const active = clients.filter((c) => c.status === 'active');
  const m = timelineModel({ now, ca: status.ca, server: status.server, clients: active });

  const caY = 28;
  const zoomTop = 110;
  const serverBars = m.zoom.bars.filter((b) => b.id.startsWith('server'));
  const clientBars = m.zoom.bars.filter((b) => b.id.startsWith('client-'));
  const rows = 1 + clientBars.length + (m.zoom.hiddenClients > 0 ? 1 : 0);
  const zoomBottom = zoomTop + 20 + rows * ROW_H;
  const H = zoomBottom + 24;

  return (
    <svg
      className="timeline"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label="Rotation timeline"
      data-testid="rotation-timeline"
    >
      {/* CA lifetime */}
      <text x={8} y={caY + 12} className="tl-label">
        CA (10 years)
      </text>
      <rect x={x(0)} y={caY} width={TRACK_W} height={16} rx={4} className={`tl-bar tl-${m.ca.level}`} />
      <rect
        x={x(0)}
        y={caY}
        width={Math.max(1, m.ca.today * TRACK_W)}
        height={16}
        rx={4}
        className="tl-elapsed"
      />
      {m.ca.ticks.map((t) => (
        <g key={t.label}>
          <line x1={x(t.frac)} x2={x(t.frac)} y1={caY + 18} y2={caY + 24} className="tl-tick" />
          <text x={x(t.frac)} y={caY + 36} className="tl-tick-label" textAnchor="middle">
            {t.label}
          </text>
        </g>
      ))}
      {/* The zoom bracket: which part of the CA's life the lower track shows. */}
      <path
        d={`M${x(m.ca.zoomFrom)},${caY + 18} L${x(0)},${zoomTop - 6} M${x(m.ca.zoomTo)},${caY + 18} L${x(1)},${zoomTop - 6}`}
        className="tl-zoom"
      />
      <line x1={x(m.ca.today)} x2={x(m.ca.today)} y1={caY - 6} y2={caY + 22} className="tl-today" />

      {/* Zoomed schedule */}
      {m.zoom.ticks.map((t) => (
        <g key={t.label}>
          <line x1={x(t.frac)} x2={x(t.frac)} y1={zoomTop} y2={zoomBottom} className="tl-grid" />
          <text x={x(t.frac) + 3} y={zoomTop + 10} className="tl-tick-label">
            {t.label}
          </text>
        </g>
      ))}
      <text x={8} y={zoomTop + 20 + 13} className="tl-label">
        Server (90 d)
      </text>
      {serverBars.map((b) => (
        <BarRect key={b.id} bar={b} y={zoomTop + 20} />
      ))}
      {clientBars.map((b, i) => (
        <g key={b.id}>
          <text x={8} y={zoomTop + 20 + (i + 1) * ROW_H + 13} className="tl-label">
            {b.label.length > 14 ? `${b.label.slice(0, 13)}…` : b.label}
          </text>
          <BarRect bar={b} y={zoomTop + 20 + (i + 1) * ROW_H} />
        </g>
      ))}
      {m.zoom.hiddenClients > 0 ? (
        <text x={8} y={zoomTop + 20 + (clientBars.length + 1) * ROW_H + 13} className="tl-label muted">
          +{m.zoom.hiddenClients} more clients
        </text>
      ) : null}
      <line
        x1={x(m.zoom.today)}
        x2={x(m.zoom.today)}
        y1={zoomTop + 12}
        y2={zoomBottom}
        className="tl-today"
      />
      <text x={x(m.zoom.today)} y={zoomBottom + 14} className="tl-today-label" textAnchor="middle">
        today
      </text>
    </svg>
  );
});

import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatClock, formatTime } from '../../lib/format';
import { bucketSeries } from '../../lib/series';
import { useConnectionsStore } from '../../stores/connections';
import { chartSummary } from './view';

const HEIGHT = 160;

function options(width: number): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    // Labels only: values under a cursor read "--" at rest, and the summary below says the numbers.
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.2))] } },
    axes: [
      {
        stroke: '#8b95a7',
        grid: { stroke: '#222a36' },
        ticks: { stroke: '#222a36' },
        space: 80,
        // The UI's one time format (24-hour), whatever the OS locale.
        values: (_u, splits) => splits.map((s) => formatClock(s * 1000)),
      },
      { stroke: '#8b95a7', grid: { stroke: '#222a36' }, ticks: { stroke: '#222a36' }, size: 40 },
    ],
    series: [
      { label: 'Time', value: (_u, v) => (v === null ? '' : formatTime(v * 1000)) },
      {
        label: 'Open connections',
        stroke: '#4c9aff',
        width: 2,
        fill: 'rgba(76,154,255,0.12)',
        points: { show: false },
      },
      {
        label: 'Refusals',
        stroke: '#f0564a',
        width: 2,
        points: { show: false },
        paths: uPlot.paths.stepped?.({ align: 1 }),
      },
    ],
  };
}

/**
 * Open connections (peak per 10 s) and refusals per 10 s over the last 10 minutes. Redraws by
 * setData on store changes and on a 5 s tick, never rebuilding the plot.
 */
export function ConnectionsChart() {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [summary, setSummary] = useState('');

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const draw = () => {
      const { samples, refusals, connections } = useConnectionsStore.getState();
      const s = bucketSeries(Date.now(), samples, refusals);
      setSummary(chartSummary(s, connections.length));
      const data: uPlot.AlignedData = [s.x, s.open, s.refused];
      if (plot.current) plot.current.setData(data);
      else plot.current = new uPlot(options(Math.max(300, el.clientWidth)), data, el);
    };
    draw();
    const unsub = useConnectionsStore.subscribe(draw);
    const tick = window.setInterval(draw, 5_000);
    const ro = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(300, el.clientWidth), height: HEIGHT }),
    );
    ro.observe(el);
    return () => {
      unsub();
      window.clearInterval(tick);
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  // The canvas and uPlot's legend say nothing to a screen reader; the summary says it in words.
  return (
    <figure className="chart-figure">
      <div ref={host} className="chart" data-testid="connections-chart" aria-hidden="true" />
      <figcaption className="muted small chart-summary" data-testid="connections-chart-summary">
        {summary}
      </figcaption>
    </figure>
  );
}

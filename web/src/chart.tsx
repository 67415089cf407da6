// A time-series chart drawn by uPlot on a canvas.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export function TimeChart(props: { title: string; times: number[]; values: number[]; format?: (n: number) => string; testid: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const fmt = props.format ?? ((n: number) => n.toLocaleString("en"));
    const plot = new uPlot(
      {
        width: Math.max(el.clientWidth, 280),
        height: 180,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
        axes: [{}, { values: (_u, ticks) => ticks.map(fmt), size: 76 }],
        series: [{}, { label: props.title, stroke: "#2563eb", fill: "rgba(37,99,235,0.12)", width: 2, points: { show: false } }],
      },
      [props.times, props.values],
      el,
    );
    return () => plot.destroy();
  }, [props.times, props.values]);
  const total = props.values.reduce((a, b) => a + b, 0);
  return (
    <figure class="chart" data-testid={props.testid} data-points={props.values.filter((v) => v > 0).length} data-total={total}>
      <figcaption>{props.title}</figcaption>
      <div ref={box} role="img" aria-label={`${props.title} over time`} />
    </figure>
  );
}

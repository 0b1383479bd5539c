// Line charts as plain SVG: a few series over time, y from zero, with axis labels. No library needed
// for polylines; the series are small (at most a few hundred points).
import { h } from "./dom.js";

const COLOURS = ["var(--c1)", "var(--c2)", "var(--c3)", "var(--c4)", "var(--c5)"];

export function lineChart(title, times, series, format) {
  const W = 600, H = 140, L = 76, B = 18, T = 6, R = 8;
  const all = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
  const max = Math.max(1, ...all);
  const t0 = times.length ? times[0] : 0;
  const t1 = times.length > 1 ? times[times.length - 1] : t0 + 1;
  const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": title });
  for (const frac of [0, 0.5, 1]) {
    const yy = y(max * frac);
    svg.append(h("svg:line", { x1: L, x2: W - R, y1: yy, y2: yy, stroke: "#e4e7ec", "stroke-width": 1 }));
    svg.append(h("svg:text", { x: L - 4, y: yy + 4, "text-anchor": "end", "font-size": 10, fill: "#667085" }, format(max * frac)));
  }
  if (times.length > 1) {
    const secs = Math.round((t1 - t0) / 1000);
    svg.append(h("svg:text", { x: L, y: H - 4, "font-size": 10, fill: "#667085" }, `-${secs} s`));
    svg.append(h("svg:text", { x: W - R, y: H - 4, "font-size": 10, fill: "#667085", "text-anchor": "end" }, "now"));
  }
  series.forEach((s, i) => {
    const pts = [];
    s.values.forEach((v, j) => { if (v !== null && v !== undefined) pts.push(`${x(times[j]).toFixed(1)},${y(v).toFixed(1)}`); });
    if (pts.length) {
      svg.append(h("svg:polyline", { points: pts.join(" "), fill: "none", stroke: COLOURS[i % COLOURS.length],
        "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
    }
  });
  const last = (s) => { for (let j = s.values.length - 1; j >= 0; j -= 1) if (s.values[j] !== null) return s.values[j]; return null; };
  return h("div", { class: "chart" },
    h("h3", null, title),
    svg,
    h("div", { class: "legend" }, series.map((s, i) => h("span", null,
      h("i", { style: `background:${COLOURS[i % COLOURS.length]}` }), `${s.name}: ${last(s) === null ? "–" : format(last(s))}`))));
}

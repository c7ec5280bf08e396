/** The slot-cost chart: QEMU RSS and boot time against reserved capacity, one line per machine. */
import { DOMImplementation, type Document, type Element, XMLSerializer } from "@xmldom/xmldom";

const SVG_NS = "http://www.w3.org/2000/svg";

export interface ChartPoint {
  capacity: number;
  median: number;
  min: number;
  max: number;
}

export interface ChartSeries {
  label: string;
  color: string;
  points: ChartPoint[];
}

export interface ChartPanel {
  title: string;
  unit: string;
  series: ChartSeries[];
}

/** About five round steps between lo and hi: 1, 2 or 5 times a power of ten. */
function niceStep(lo: number, hi: number): number {
  const rough = (hi - lo) / 5 || 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  return step ?? 10 * power;
}

class Svg {
  readonly doc: Document;
  readonly root: Element;
  constructor(width: number, height: number) {
    this.doc = new DOMImplementation().createDocument(SVG_NS, "svg", null);
    this.root = this.doc.documentElement as Element;
    this.set(this.root, {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      "font-family": "sans-serif",
      "font-size": 12,
    });
  }
  set(el: Element, attrs: Record<string, string | number>): Element {
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
    return el;
  }
  add(parent: Element, tag: string, attrs: Record<string, string | number>, text?: string) {
    const el = this.set(this.doc.createElementNS(SVG_NS, tag), attrs);
    if (text !== undefined) el.appendChild(this.doc.createTextNode(text));
    parent.appendChild(el);
    return el;
  }
}

const fmt = (x: number) => String(Math.round(x * 1000) / 1000);

function drawPanel(svg: Svg, panel: ChartPanel, left: number, top: number, w: number, h: number) {
  const g = svg.add(svg.root, "g", {});
  const capacities = panel.series.flatMap((s) => s.points.map((p) => p.capacity));
  const values = panel.series.flatMap((s) => s.points.flatMap((p) => [p.min, p.max]));
  const xMax = Math.max(...capacities, 1);
  let step = niceStep(Math.min(...values), Math.max(...values));
  let yLo = Math.floor(Math.min(...values) / step) * step;
  let yHi = Math.ceil(Math.max(...values) / step) * step;
  if (yHi === yLo) yHi = yLo + step;
  step = niceStep(yLo, yHi);
  yLo = Math.floor(yLo / step) * step;
  yHi = Math.ceil(yHi / step) * step;
  const x = (c: number) => left + (c / xMax) * w;
  const y = (v: number) => top + h - ((v - yLo) / (yHi - yLo)) * h;

  svg.add(g, "text", { x: left, y: top - 12, "font-weight": "bold" }, panel.title);
  for (let v = yLo; v <= yHi + step / 1000; v += step) {
    svg.add(g, "line", { x1: left, x2: left + w, y1: y(v), y2: y(v), stroke: "#ddd" });
    svg.add(g, "text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v));
  }
  for (const c of [...new Set(capacities)].sort((a, b) => a - b)) {
    svg.add(g, "line", { x1: x(c), x2: x(c), y1: top + h, y2: top + h + 4, stroke: "#333" });
    svg.add(g, "text", { x: x(c), y: top + h + 17, "text-anchor": "middle" }, String(c));
  }
  svg.add(g, "rect", { x: left, y: top, width: w, height: h, fill: "none", stroke: "#333" });
  svg.add(
    g,
    "text",
    { x: left + w / 2, y: top + h + 34, "text-anchor": "middle" },
    "reserved capacity (kubevirt.io/interface)",
  );
  svg.add(
    g,
    "text",
    {
      x: left - 44,
      y: top + h / 2,
      "text-anchor": "middle",
      transform: `rotate(-90 ${left - 44} ${top + h / 2})`,
    },
    panel.unit,
  );
  for (const series of panel.series) {
    const points = [...series.points].sort((a, b) => a.capacity - b.capacity);
    svg.add(g, "polyline", {
      points: points.map((p) => `${fmt(x(p.capacity))},${fmt(y(p.median))}`).join(" "),
      fill: "none",
      stroke: series.color,
      "stroke-width": 2,
    });
    for (const p of points) {
      // Whisker: the spread of the runs at this point.
      svg.add(g, "line", {
        x1: x(p.capacity),
        x2: x(p.capacity),
        y1: y(p.min),
        y2: y(p.max),
        stroke: series.color,
        "stroke-opacity": 0.5,
      });
      svg.add(g, "circle", { cx: x(p.capacity), cy: y(p.median), r: 3, fill: series.color });
    }
  }
}

/** Panels side by side, a legend and a footnote; returns the SVG document as text. */
export function slotCostChart(panels: ChartPanel[], footnote: string): string {
  const panelW = 340;
  const panelH = 220;
  const left = 70;
  const gap = 110;
  const top = 50;
  const width = left + panels.length * panelW + (panels.length - 1) * gap + 30;
  const height = top + panelH + 95;
  const svg = new Svg(width, height);
  svg.add(svg.root, "rect", { x: 0, y: 0, width, height, fill: "white" });
  panels.forEach((panel, i) => {
    drawPanel(svg, panel, left + i * (panelW + gap), top, panelW, panelH);
  });
  const legendY = top + panelH + 60;
  (panels[0]?.series ?? []).forEach((series, i) => {
    const lx = left + i * 220;
    svg.add(svg.root, "line", {
      x1: lx,
      x2: lx + 24,
      y1: legendY - 4,
      y2: legendY - 4,
      stroke: series.color,
      "stroke-width": 2,
    });
    svg.add(svg.root, "text", { x: lx + 30, y: legendY }, series.label);
  });
  svg.add(svg.root, "text", { x: left, y: legendY + 20, fill: "#555", "font-size": 11 }, footnote);
  return `${new XMLSerializer().serializeToString(svg.doc)}\n`;
}

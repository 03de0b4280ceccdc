/**
 * PNG plots of a backtest, drawn pixel by pixel with pngjs so that no
 * charting stack is needed: the input value on top, the anomaly score and
 * threshold below, the labelled windows shaded across both, and detections
 * marked in red, so a person sees at a glance where a detector is right or
 * wrong. Text (title, legend, axis extremes) uses a built-in 5x7 pixel font.
 */
import { PNG } from 'pngjs';
import { writeOutputFile } from './write-output-file.ts';

/** One line of the plot. */
export interface PlotSeries {
  name: string;
  /** One value per timestamp; NaN leaves a gap. */
  values: ArrayLike<number>;
  /** CSS hex colour, `#rrggbb`. */
  color: string;
  /** Which panel draws it: the first series defaults to `top`, the others to `bottom`. */
  panel?: 'top' | 'bottom';
}

/** What to draw. */
export interface PlotSpec {
  title: string;
  /** Epoch milliseconds of every row, ascending. */
  timestamps: ArrayLike<number>;
  series: readonly PlotSeries[];
  /** Horizontal dashed line in the bottom panel (the detection threshold). */
  threshold?: number;
  /** Labelled windows, inclusive `[start, end]` epoch milliseconds. */
  windows: ReadonlyArray<readonly [number, number]>;
  /** Row indices (into `timestamps`) where the detector raised a detection. */
  detections: readonly number[];
  width?: number;
  height?: number;
}

type Rgb = readonly [number, number, number];

const WHITE: Rgb = [255, 255, 255];
const AXIS: Rgb = [90, 90, 90];
const GRID: Rgb = [225, 225, 225];
const TEXT: Rgb = [30, 30, 30];
const WINDOW: Rgb = [255, 214, 214];
const DETECTION: Rgb = [214, 39, 40];
const THRESHOLD: Rgb = [255, 127, 14];

function parseColor(hex: string): Rgb {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (m === null) return [0, 0, 0];
  return [
    Number.parseInt(m[1] as string, 16),
    Number.parseInt(m[2] as string, 16),
    Number.parseInt(m[3] as string, 16),
  ];
}

/** 5x7 glyphs: seven rows of five bits, most significant bit on the left. */
const FONT: Record<string, readonly number[]> = {
  ' ': [0, 0, 0, 0, 0, 0, 0],
  '0': [14, 17, 19, 21, 25, 17, 14],
  '1': [4, 12, 4, 4, 4, 4, 14],
  '2': [14, 17, 1, 2, 4, 8, 31],
  '3': [31, 2, 4, 2, 1, 17, 14],
  '4': [2, 6, 10, 18, 31, 2, 2],
  '5': [31, 16, 30, 1, 1, 17, 14],
  '6': [6, 8, 16, 30, 17, 17, 14],
  '7': [31, 1, 2, 4, 8, 8, 8],
  '8': [14, 17, 17, 14, 17, 17, 14],
  '9': [14, 17, 17, 15, 1, 2, 12],
  A: [14, 17, 17, 31, 17, 17, 17],
  B: [30, 17, 17, 30, 17, 17, 30],
  C: [14, 17, 16, 16, 16, 17, 14],
  D: [28, 18, 17, 17, 17, 18, 28],
  E: [31, 16, 16, 30, 16, 16, 31],
  F: [31, 16, 16, 30, 16, 16, 16],
  G: [14, 17, 16, 23, 17, 17, 15],
  H: [17, 17, 17, 31, 17, 17, 17],
  I: [14, 4, 4, 4, 4, 4, 14],
  J: [7, 2, 2, 2, 2, 18, 12],
  K: [17, 18, 20, 24, 20, 18, 17],
  L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17],
  N: [17, 17, 25, 21, 19, 17, 17],
  O: [14, 17, 17, 17, 17, 17, 14],
  P: [30, 17, 17, 30, 16, 16, 16],
  Q: [14, 17, 17, 17, 21, 18, 13],
  R: [30, 17, 17, 30, 20, 18, 17],
  S: [15, 16, 16, 14, 1, 1, 30],
  T: [31, 4, 4, 4, 4, 4, 4],
  U: [17, 17, 17, 17, 17, 17, 14],
  V: [17, 17, 17, 17, 17, 10, 4],
  W: [17, 17, 17, 21, 21, 21, 10],
  X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 17, 10, 4, 4, 4],
  Z: [31, 1, 2, 4, 8, 16, 31],
  '.': [0, 0, 0, 0, 0, 12, 12],
  ',': [0, 0, 0, 0, 12, 4, 8],
  '-': [0, 0, 0, 31, 0, 0, 0],
  '+': [0, 4, 4, 31, 4, 4, 0],
  ':': [0, 12, 12, 0, 12, 12, 0],
  '/': [0, 1, 2, 4, 8, 16, 0],
  _: [0, 0, 0, 0, 0, 0, 31],
  '=': [0, 0, 31, 0, 31, 0, 0],
  '%': [24, 25, 2, 4, 8, 19, 3],
  '(': [2, 4, 8, 8, 8, 4, 2],
  ')': [8, 4, 2, 2, 2, 4, 8],
  '?': [14, 17, 1, 2, 4, 0, 4],
};

/** An RGBA canvas with the few primitives a plot needs. */
class Canvas {
  readonly png: PNG;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.png = new PNG({ width, height });
    this.fill(0, 0, width, height, WHITE);
  }

  set(x: number, y: number, [r, g, b]: Rgb): void {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const i = (py * this.width + px) * 4;
    this.png.data[i] = r;
    this.png.data[i + 1] = g;
    this.png.data[i + 2] = b;
    this.png.data[i + 3] = 255;
  }

  fill(x0: number, y0: number, x1: number, y1: number, color: Rgb): void {
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(this.height, Math.ceil(y1)); y++) {
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(this.width, Math.ceil(x1)); x++) {
        this.set(x, y, color);
      }
    }
  }

  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, dash = 0): void {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let s = 0; s <= steps; s++) {
      if (dash > 0 && Math.floor(s / dash) % 2 === 1) continue;
      this.set(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps, color);
    }
  }

  rect(x0: number, y0: number, x1: number, y1: number, color: Rgb): void {
    this.line(x0, y0, x1, y0, color);
    this.line(x1, y0, x1, y1, color);
    this.line(x1, y1, x0, y1, color);
    this.line(x0, y1, x0, y0, color);
  }

  /** Draws text with its top-left corner at (x, y); returns the width used. */
  text(x: number, y: number, text: string, color: Rgb, scale = 1): number {
    let cx = x;
    for (const ch of text.toUpperCase()) {
      const glyph = FONT[ch] ?? FONT['?'] ?? [];
      glyph.forEach((bits, row) => {
        for (let col = 0; col < 5; col++) {
          if ((bits >> (4 - col)) & 1)
            this.fill(
              cx + col * scale,
              y + row * scale,
              cx + (col + 1) * scale,
              y + (row + 1) * scale,
              color,
            );
        }
      });
      cx += 6 * scale;
    }
    return cx - x;
  }
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(4)).toString();
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

interface Panel {
  top: number;
  bottom: number;
  min: number;
  max: number;
}

function extent(series: readonly PlotSeries[], extra: number[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i] as number;
      if (Number.isFinite(v)) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  }
  for (const v of extra) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) return { min: 0, max: 1 };
  if (min === max) return { min: min - 1, max: max + 1 };
  const pad = (max - min) * 0.05;
  return { min: min - pad, max: max + pad };
}

/**
 * Renders the plot to a PNG file (creating its folder; through a temporary
 * file renamed into place, as writeOutputFile does): one panel for the
 * `top` series (the input), one for the `bottom` series (scores) with the
 * threshold, windows shaded in light red behind both, detections as red ticks
 * under each panel and red dots on the first series. Legend colours: the
 * series' own, orange dashed = threshold, light red band = labelled window,
 * red = detection.
 */
export function writePlotPng(file: string, spec: PlotSpec): void {
  const width = spec.width ?? 1400;
  const height = spec.height ?? 520;
  const canvas = new Canvas(width, height);
  const n = spec.timestamps.length;
  const panelOf = (s: PlotSeries, i: number) => s.panel ?? (i === 0 ? 'top' : 'bottom');
  const top = spec.series.filter((s, i) => panelOf(s, i) === 'top');
  const bottom = spec.series.filter((s, i) => panelOf(s, i) === 'bottom');

  const left = 70;
  const right = width - 20;
  const header = 38;
  const footer = 22;
  const gap = 14;
  const usable = height - header - footer;
  const panels: Array<{ series: PlotSeries[]; panel: Panel; threshold: boolean }> = [];
  const twoPanels = top.length > 0 && bottom.length > 0;
  const firstHeight = twoPanels ? Math.round((usable - gap) * 0.55) : usable;
  if (top.length > 0) {
    panels.push({
      series: top,
      panel: { top: header, bottom: header + firstHeight, ...extent(top, []) },
      threshold: !twoPanels && spec.threshold !== undefined,
    });
  }
  if (bottom.length > 0) {
    const panelTop = twoPanels ? header + firstHeight + gap : header;
    const extra = spec.threshold === undefined ? [] : [spec.threshold];
    panels.push({
      series: bottom,
      panel: { top: panelTop, bottom: header + usable, ...extent(bottom, extra) },
      threshold: spec.threshold !== undefined,
    });
  }

  const t0 = n > 0 ? (spec.timestamps[0] as number) : 0;
  const t1 = n > 0 ? (spec.timestamps[n - 1] as number) : 1;
  const span = t1 > t0 ? t1 - t0 : 1;
  const xOf = (t: number) => left + ((t - t0) / span) * (right - left);

  // Title and legend.
  let x = left + canvas.text(left, 8, spec.title, TEXT, 2) + 24;
  const legend: Array<[string, Rgb]> = [
    ...spec.series.map((s) => [s.name, parseColor(s.color)] as [string, Rgb]),
    ...(spec.threshold === undefined ? [] : [['threshold', THRESHOLD] as [string, Rgb]]),
    ['label window', WINDOW],
    ['detection', DETECTION],
  ];
  for (const [name, color] of legend) {
    canvas.fill(x, 12, x + 10, 22, color);
    x += 14 + canvas.text(x + 14, 14, name, TEXT) + 12;
  }

  for (const { series, panel, threshold } of panels) {
    const yOf = (v: number) =>
      panel.bottom - ((v - panel.min) / (panel.max - panel.min)) * (panel.bottom - panel.top);
    for (const [start, end] of spec.windows) {
      canvas.fill(
        Math.max(left, xOf(start)),
        panel.top,
        Math.min(right, xOf(end)) + 1,
        panel.bottom,
        WINDOW,
      );
    }
    for (let k = 1; k < 4; k++) {
      const y = panel.top + ((panel.bottom - panel.top) * k) / 4;
      canvas.line(left, y, right, y, GRID, 3);
    }
    for (const s of series) {
      const color = parseColor(s.color);
      let previous: [number, number] | undefined;
      for (let i = 0; i < n && i < s.values.length; i++) {
        const v = s.values[i] as number;
        if (!Number.isFinite(v)) {
          previous = undefined;
          continue;
        }
        const point: [number, number] = [xOf(spec.timestamps[i] as number), yOf(v)];
        if (previous !== undefined)
          canvas.line(previous[0], previous[1], point[0], point[1], color);
        else canvas.set(point[0], point[1], color);
        previous = point;
      }
    }
    if (threshold && spec.threshold !== undefined) {
      const y = yOf(spec.threshold);
      canvas.line(left, y, right, y, THRESHOLD, 6);
    }
    const first = series[0];
    for (const row of spec.detections) {
      const t = spec.timestamps[row];
      if (t === undefined) continue;
      const dx = xOf(t);
      canvas.line(dx, panel.bottom - 1, dx, panel.bottom - 8, DETECTION);
      const v = first?.values[row];
      if (v !== undefined && Number.isFinite(v))
        canvas.fill(dx - 2, yOf(v) - 2, dx + 3, yOf(v) + 3, DETECTION);
    }
    canvas.rect(left, panel.top, right, panel.bottom, AXIS);
    const maxLabel = formatNumber(panel.max);
    const minLabel = formatNumber(panel.min);
    canvas.text(left - 6 - maxLabel.length * 6, panel.top, maxLabel, TEXT);
    canvas.text(left - 6 - minLabel.length * 6, panel.bottom - 7, minLabel, TEXT);
  }

  if (n > 0) {
    const end = formatTime(t1);
    canvas.text(left, height - footer + 8, formatTime(t0), TEXT);
    canvas.text(right - end.length * 6, height - footer + 8, end, TEXT);
  }

  writeOutputFile(file, PNG.sync.write(canvas.png));
}

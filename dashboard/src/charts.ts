import uPlot from "uplot";
import { element } from "./dom.js";
import { formatClock, formatClockMinutes } from "./format.js";
import type { TelemetrySample } from "./telemetry-stream.js";

/** How much history the charts show. */
export const WINDOW_SECONDS = 300;
const MIN_SPAN_SECONDS = 60;

export interface SeriesSpec {
  /** Names the series in the card and in `data-series` for tests. */
  readonly key: string;
  readonly label: string;
  /** `#rrggbb`: the area under the line is the same colour with an alpha byte added. */
  readonly color: string;
  readonly pick: (sample: TelemetrySample) => number | null;
  /** A limit rather than a measurement: a dashed line without fill, and no peak reading. */
  readonly limit?: boolean;
}

export interface ChartSpec {
  readonly title: string;
  /** What the numbers are, shown under the title. */
  readonly unit: string;
  readonly series: readonly SeriesSpec[];
  readonly format: (value: number | null) => string;
  /** The y range for the data's maximum; rates start at 0 so a small wobble does not look like a cliff. */
  readonly yRange: (dataMax: number) => [number, number];
  /** Counts and rates, where an axis step of 0.25 is noise: steps are whole numbers. */
  readonly wholeNumbers?: boolean;
  /** Spans the whole row: for a chart with many series, whose readings need the width. */
  readonly wide?: boolean;
}

interface Reading {
  readonly value: HTMLElement;
  readonly peak: HTMLElement;
  readonly root: HTMLElement;
}

const WHOLE_NUMBER_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6,
];
const AXIS_FONT = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const AXIS_COLOR = "#64748b";
const GRID_COLOR = "rgba(100, 116, 139, 0.15)";

/** One card: a title, the latest value and 5-minute peak of each series, and a uPlot chart. */
export class TimeSeriesCard {
  private readonly plot: uPlot;
  private readonly readings: Reading[] = [];
  private readonly when: HTMLElement;
  private samples: readonly TelemetrySample[] = [];

  constructor(
    container: HTMLElement,
    private readonly spec: ChartSpec,
  ) {
    const card = element("article", spec.wide ? "card card-wide" : "card");
    const header = element("header", "card-header");
    const titles = element("div", "card-titles");
    titles.append(element("h2", "card-title", spec.title), element("span", "card-unit", spec.unit));
    this.when = element("span", "card-when", "latest");
    titles.append(this.when);
    const readings = element("div", "card-readings");
    for (const series of spec.series) {
      const root = element("div", "reading");
      root.dataset.series = series.key;
      const swatch = element("span", "swatch");
      swatch.style.backgroundColor = series.color;
      const label = element("span", "reading-label");
      label.append(swatch, series.label);
      const value = element("span", "reading-value", "–");
      const peak = element("span", "reading-peak", "");
      // One series needs no key; with two, the label and the value's colour say which line is which.
      if (spec.series.length > 1) {
        value.style.color = series.color;
        root.append(label);
      }
      root.append(value, peak);
      readings.append(root);
      this.readings.push({ value, peak, root });
    }
    header.append(titles, readings);
    const plotArea = element("div", "card-plot");
    card.append(header, plotArea);
    container.append(card);

    this.plot = new uPlot(this.options(plotArea), this.data(), plotArea);
    // uPlot draws at a fixed pixel size; follow the card as the layout changes.
    new ResizeObserver(() => this.fit(plotArea)).observe(plotArea);
    this.fit(plotArea);
    this.showReadings(null);
  }

  update(samples: readonly TelemetrySample[]): void {
    this.samples = samples;
    this.plot.setData(this.data());
    if (this.plot.cursor.idx == null) this.showReadings(null);
  }

  private fit(plotArea: HTMLElement): void {
    const { width, height } = plotArea.getBoundingClientRect();
    if (width > 0 && height > 0) this.plot.setSize({ width: Math.floor(width), height: Math.floor(height) });
  }

  private data(): uPlot.AlignedData {
    return [
      this.samples.map((sample) => sample.at / 1000),
      ...this.spec.series.map((series) => this.samples.map(series.pick)),
    ];
  }

  /** The latest values, or those under the cursor while the user hovers the chart. */
  private showReadings(index: number | null): void {
    const sample = this.samples[index ?? this.samples.length - 1];
    // "latest", not "now": after a disconnect the newest sample may be minutes old.
    this.when.textContent = index === null || !sample ? "latest" : `at ${formatClock(sample.at)}`;
    this.spec.series.forEach((series, i) => {
      const reading = this.readings[i]!;
      const value = sample ? series.pick(sample) : null;
      const peak = this.samples.reduce<number | null>((max, s) => {
        const picked = series.pick(s);
        return picked === null ? max : Math.max(max ?? picked, picked);
      }, null);
      reading.value.textContent = this.spec.format(value);
      reading.peak.textContent = peak === null || series.limit ? "" : `peak ${this.spec.format(peak)}`;
      // Raw numbers for tests and scripts; the text is for people.
      reading.root.dataset.value = value === null ? "" : String(value);
      reading.root.dataset.peak = peak === null ? "" : String(peak);
    });
  }

  private options(plotArea: HTMLElement): uPlot.Options {
    const spec = this.spec;
    return {
      width: Math.max(100, plotArea.clientWidth),
      height: Math.max(60, plotArea.clientHeight),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      padding: [8, 8, 0, 0],
      scales: {
        x: {
          time: true,
          // Ends at the newest sample and spans the history there is, at least a minute (a fresh
          // server's first seconds would otherwise be a sliver at the edge) and at most the window,
          // after which the chart scrolls rather than squeezes.
          range: (_plot, min, max) => {
            const end = Number.isFinite(max) ? max : Date.now() / 1000;
            const start = Number.isFinite(min) ? min : end;
            return [Math.max(end - WINDOW_SECONDS, Math.min(start, end - MIN_SPAN_SECONDS)), end];
          },
        },
        y: { range: (_plot, _min, max) => spec.yRange(Number.isFinite(max) ? max : 0) },
      },
      axes: [
        {
          stroke: AXIS_COLOR,
          font: AXIS_FONT,
          grid: { stroke: GRID_COLOR },
          ticks: { show: false },
          size: 24,
          // Clock time only: the window is five minutes, so the date would be noise.
          values: (_plot, splits, _axis, _space, step) =>
            splits.map((at) => (step < 60 ? formatClock(at * 1000) : formatClockMinutes(at * 1000))),
        },
        {
          stroke: AXIS_COLOR,
          font: AXIS_FONT,
          grid: { stroke: GRID_COLOR },
          ticks: { show: false },
          size: 56,
          ...(spec.wholeNumbers ? { incrs: WHOLE_NUMBER_STEPS } : {}),
          values: (_plot, splits) => splits.map((value) => spec.format(value)),
        },
      ],
      series: [
        {},
        ...spec.series.map(
          (series): uPlot.Series => ({
            label: series.label,
            stroke: series.color,
            ...(series.limit ? { dash: [6, 4] } : { fill: `${series.color}1f` }),
            width: 1.5,
            points: { show: false },
            spanGaps: false,
          }),
        ),
      ],
      hooks: { setCursor: [(plot) => this.showReadings(plot.cursor.idx ?? null)] },
    };
  }
}

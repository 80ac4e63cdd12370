// The expgrid HTML report: draws the data embedded in #expgrid-data (see src/report/html.rs)
// as tables and SVG charts. Hand-written, no library: the page must open offline from one
// file, and these few chart kinds take less code than a general plotting library.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];
/** Rows plotted when the page opens (the best ones in the report's order). */
const DEFAULT_SELECTED = 6;
const POLL_MS = 2000;

const state = {
  data: JSON.parse(document.getElementById("expgrid-data").textContent),
  sort: null, // {id, desc}; null: the report's order
  excluded: {}, // key -> Set of hidden values
  selected: null, // Set of row labels; null until the first render
  trendX: null,
  trendY: "accuracy_argmax",
  parallelY: "validation_loss",
  openRuns: new Set(), // experiment names whose details are shown
  refreshed: null,
  fetchError: null,
  lastText: null, // the last data.json, to redraw only on changes
};

// ---------------------------------------------------------------- small helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Like the markdown report's numbers: short, with thousands separators for big ones. */
function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a === 0) return "0";
  if (a >= 0.01) return x.toPrecision(4).replace(/\.?0+$/, "");
  return x.toExponential(2);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const t = Math.round(seconds);
  const h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, s = t % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

function color(i) {
  return COLORS[i % COLORS.length];
}

/** A row's colour follows the row, not its position after sorting or filtering. */
function rowColor(row) {
  return color(state.data.rows.indexOf(row));
}

/** About `count` round tick values covering [lo, hi]. */
function ticks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickLabel(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return fmt(v / 1e6) + "M";
  if (a >= 1e3) return fmt(v / 1e3) + "k";
  return fmt(v);
}

/** [lo, hi] of `values` with a margin (a single value gets a band around it). */
function extent(values, margin) {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite), hi = Math.max(...finite);
  if (hi === lo) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * margin;
  return [lo - pad, hi + pad];
}

function metricLabel(id) {
  const m = state.data.metrics.find((m) => m.id === id);
  return m ? m.label : id;
}

// ---------------------------------------------------------------- rows: filter and sort

function visibleRows() {
  const rows = state.data.rows.filter((row) =>
    Object.entries(state.excluded).every(([key, hidden]) => !hidden.has(row.keys[key])));
  if (!state.sort) return rows;
  const { id, desc } = state.sort;
  return rows
    .map((row, i) => ({ row, i, key: sortKey(row, id) }))
    .sort((a, b) => compareKeys(a.key, b.key, desc) || a.i - b.i)
    .map((x) => x.row);
}

/** As the markdown table sorts (src/report/table.rs): early-stopped values after finished
 * ones, missing values last, in either direction. */
function sortKey(row, id) {
  const v = row.values[id];
  if (v === null || v === undefined) return { kind: 3 };
  if (typeof v === "number") return { kind: 0, num: v };
  if (typeof v === "string") {
    const num = Number(v);
    return v.trim() !== "" && Number.isFinite(num) ? { kind: 0, num } : { kind: 0, text: v };
  }
  return { kind: v.stopped_at === null || v.stopped_at === undefined ? 0 : 2, num: v.mean };
}

function compareKeys(a, b, desc) {
  if (a.kind === 3 || b.kind === 3) return (a.kind === 3) - (b.kind === 3);
  if (a.kind !== b.kind) return a.kind - b.kind;
  let order;
  if (a.text === undefined && b.text === undefined) order = a.num - b.num;
  else if (a.text === undefined) order = -1;
  else if (b.text === undefined) order = 1;
  else order = a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
  return desc ? -order : order;
}

// ---------------------------------------------------------------- sections

function header() {
  const h = state.data.header;
  const trained = h.backend ? `, trained on ${h.backend} (${h.device}) by expgrid ${h.trained_with}` : "";
  const parts = [
    el("h1", {}, h.title),
    el("p", {}, "Experiment ", el("code", {}, h.experiment_file), `: ${h.runs_done} of ${h.runs_total} runs done.`),
    el("p", {}, `Data set ${h.dataset}, budget ${h.max_inputs} training inputs per run${trained}.`),
  ];
  if (h.group_over.length) {
    parts.push(el("p", {}, `Runs that differ only in ${h.group_over.join(", ")} are repeats, shown as one row: mean ± std over the n runs.`));
  }
  parts.push(el("p", { class: "muted" }, `Report by expgrid ${h.expgrid_version}, ${h.date}.`));
  if (state.data.poll) {
    const when = state.refreshed ? state.refreshed.toLocaleTimeString() : "–";
    parts.push(el("div", { class: "banner live", id: "live" },
      `Live: the page reads the run folders every ${POLL_MS / 1000} s (last refresh ${when}).`));
  }
  if (state.fetchError) parts.push(el("div", { class: "banner error", id: "fetch-error" }, state.fetchError));
  if (window.expgridErrors.length) {
    parts.push(el("div", { class: "banner error" }, "Page errors: " + window.expgridErrors.join("; ")));
  }
  return el("header", {}, parts);
}

function filters() {
  const keys = state.data.keys.filter((k) => k.values.length > 1);
  if (!keys.length) return null;
  return el("div", { class: "filters", id: "filters" }, keys.map((k) => {
    const hidden = state.excluded[k.key] || new Set();
    return el("div", {}, el("span", { class: "key" }, k.key + ":"), k.values.map((value) =>
      el("label", {}, el("input", {
        type: "checkbox", "data-key": k.key, "data-value": value, checked: !hidden.has(value),
        onchange: (e) => {
          const set = state.excluded[k.key] || (state.excluded[k.key] = new Set());
          if (e.target.checked) set.delete(value); else set.add(value);
          render();
        },
      }), " " + value)));
  }));
}

function runTable(rows) {
  const cols = state.data.columns;
  const head = el("tr", {},
    el("th", { title: "plot this row's learning curves" }, "plot"),
    cols.map((c) => {
      const arrow = state.sort && state.sort.id === c.id ? (state.sort.desc ? "▼" : "▲") : "";
      return el("th", {
        class: "sortable" + (c.numeric ? " num" : ""), "data-col": c.id, title: "sort by " + c.label,
        onclick: () => {
          const desc = state.sort && state.sort.id === c.id ? !state.sort.desc : false;
          state.sort = { id: c.id, desc };
          render();
        },
      }, c.label, el("span", { class: "arrow" }, arrow));
    }));
  const body = rows.map((row) => {
    const selected = state.selected.has(row.label);
    return el("tr", { class: selected ? "selected" : "", "data-label": row.label },
      el("td", { class: "swatch" }, el("label", {},
        el("input", {
          type: "checkbox", checked: selected, title: "plot " + row.label,
          onchange: (e) => {
            if (e.target.checked) state.selected.add(row.label); else state.selected.delete(row.label);
            render();
          },
        }), " ", el("span", { style: `background:${selected ? rowColor(row) : "transparent"}` }))),
      row.cells.map((cell, i) => el("td", { class: cols[i].numeric ? "num" : "" },
        cell.best ? el("strong", {}, cell.text) : cell.text)));
  });
  return el("div", { class: "scroll" }, el("table", { id: "runs-table" }, el("thead", {}, head), el("tbody", {}, body)));
}

/** A line chart: `lines` of {label, color, points: [{x, y, std}]}; `errorBars` draws
 * markers with ±std bars (trends), otherwise a ±std band (curves). */
function lineChart({ id, title, xLabel, yLabel, lines, errorBars, categories, width, height }) {
  width = width || 420; height = height || 290;
  const m = { l: 62, r: 14, t: 26, b: 40 };
  const pw = width - m.l - m.r, ph = height - m.t - m.b;
  const points = lines.flatMap((l) => l.points);
  const [x0, x1] = categories ? [-0.5, categories.length - 0.5] : extent(points.map((p) => p.x), 0.02);
  const ys = points.flatMap((p) => (p.spread ? [p.y - p.spread, p.y + p.spread] : [p.y]));
  const [y0, y1] = extent(ys, 0.06);
  const sx = (x) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "plot", id });
  root.append(svg("text", { x: m.l, y: 16, class: "title" }, title));
  const xt = categories ? categories.map((_, i) => i) : ticks(x0, x1, 5);
  for (const v of ticks(y0, y1, 5)) {
    root.append(svg("line", { x1: m.l, x2: m.l + pw, y1: sy(v), y2: sy(v), class: "grid" }));
    root.append(svg("text", { x: m.l - 6, y: sy(v) + 4, "text-anchor": "end" }, tickLabel(v)));
  }
  for (const v of xt) {
    root.append(svg("line", { x1: sx(v), x2: sx(v), y1: m.t + ph, y2: m.t + ph + 4, class: "axis" }));
    root.append(svg("text", { x: sx(v), y: m.t + ph + 16, "text-anchor": "middle" },
      categories ? categories[v] : tickLabel(v)));
  }
  root.append(svg("rect", { x: m.l, y: m.t, width: pw, height: ph, fill: "none", class: "axis" }));
  root.append(svg("text", { x: m.l + pw / 2, y: height - 6, "text-anchor": "middle", class: "muted" }, xLabel));
  root.append(svg("text", { x: 12, y: m.t + ph / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${m.t + ph / 2})` }, yLabel));
  for (const line of lines) {
    const pts = line.points;
    if (!pts.length) continue;
    const banded = pts.filter((p) => p.spread);
    if (!errorBars && banded.length > 1) {
      const upper = banded.map((p) => `${sx(p.x)},${sy(p.y + p.spread)}`);
      const lower = banded.slice().reverse().map((p) => `${sx(p.x)},${sy(p.y - p.spread)}`);
      root.append(svg("polygon", { points: upper.concat(lower).join(" "), fill: line.color, "fill-opacity": 0.15, stroke: "none", class: "band" }));
    }
    root.append(svg("polyline", {
      points: pts.map((p) => `${sx(p.x)},${sy(p.y)}`).join(" "), fill: "none", stroke: line.color,
      "stroke-width": 2, class: "curve", "data-label": line.label,
    }));
    for (const p of pts) {
      if (errorBars && p.spread) {
        root.append(svg("line", { x1: sx(p.x), x2: sx(p.x), y1: sy(p.y - p.spread), y2: sy(p.y + p.spread), stroke: line.color, "stroke-width": 1.5, class: "errorbar" }));
      }
      if (errorBars || pts.length === 1) root.append(svg("circle", { cx: sx(p.x), cy: sy(p.y), r: 3.5, fill: line.color }));
    }
  }
  const wrap = el("div", { class: "chart" }, root);
  hover(wrap, root, lines, { sx, sy, m, pw, ph, categories, xLabel });
  return wrap;
}

/** The numbers under the mouse: every line's point nearest to the pointer's x. */
function hover(wrap, root, lines, { sx, m, pw, ph, categories, xLabel }) {
  const guide = svg("line", { y1: m.t, y2: m.t + ph, stroke: "#888", "stroke-dasharray": "3 3", visibility: "hidden" });
  root.append(guide);
  const tip = el("div", { class: "tooltip", hidden: true });
  wrap.append(tip);
  root.addEventListener("mousemove", (e) => {
    const box = root.getBoundingClientRect();
    const px = e.clientX - box.left;
    if (px < m.l || px > m.l + pw) { tip.hidden = true; guide.setAttribute("visibility", "hidden"); return; }
    let best = null;
    for (const line of lines) {
      for (const p of line.points) {
        const d = Math.abs(sx(p.x) - px);
        if (!best || d < best.d) best = { d, x: p.x };
      }
    }
    if (!best) return;
    const x = best.x;
    guide.setAttribute("x1", sx(x)); guide.setAttribute("x2", sx(x)); guide.setAttribute("visibility", "visible");
    const rowsAt = lines.map((l) => ({ l, p: l.points.find((p) => p.x === x) })).filter((r) => r.p);
    tip.replaceChildren(el("div", {}, el("b", {}, `${xLabel} ${categories ? categories[x] : fmt(x)}`)),
      ...rowsAt.map(({ l, p }) => el("div", {}, el("span", { style: `color:${l.color}` }, "● "),
        `${l.label}: ${fmt(p.y)}${p.spread ? " ± " + fmt(p.spread) : ""}`)));
    tip.hidden = false;
    tip.style.left = Math.min(sx(x) + 12, box.width - 160) + "px";
    tip.style.top = (e.clientY - box.top + 12) + "px";
  });
  root.addEventListener("mouseleave", () => { tip.hidden = true; guide.setAttribute("visibility", "hidden"); });
}

function legend(lines) {
  return el("div", { class: "legend" }, lines.map((l) =>
    el("span", {}, el("span", { class: "dot", style: `background:${l.color}` }), l.label)));
}

function curves(rows) {
  const shown = rows.filter((r) => state.selected.has(r.label) && r.curves.some((c) => c.length));
  if (!shown.length) return el("p", { class: "muted", id: "curves" }, "Tick rows of the table to plot their learning curves.");
  const panels = state.data.curve_titles.map((title, i) => lineChart({
    id: "curve-" + i, title, xLabel: "inputs", yLabel: title,
    lines: shown.map((r) => ({ label: r.label, color: rowColor(r), points: r.curves[i] })),
  }));
  return el("div", { id: "curves" }, el("div", { class: "charts" }, panels),
    legend(shown.map((r) => ({ label: r.label, color: rowColor(r) }))));
}

/** `y` against the key `x`: a point per row with finished runs (mean ± std over repeats),
 * one line per value of `series` and the other keys, as `expgrid plot --x` draws it. */
function trendChart(x, y, series, rows, id) {
  const keyInfo = state.data.keys.find((k) => k.key === x);
  if (!keyInfo) return el("p", { class: "muted" }, `${x} does not vary: no trend to draw.`);
  const lineKeys = [series].concat(state.data.keys.map((k) => k.key).filter((k) => k !== x && k !== series)).filter(Boolean);
  const xs = keyInfo.values.filter((v) => rows.some((r) => r.keys[x] === v));
  const position = (v) => (keyInfo.numeric ? Number(v) : xs.indexOf(v));
  const byLine = new Map();
  for (const row of rows) {
    const value = row.metrics[y];
    if (!value || value.stopped_at !== null && value.stopped_at !== undefined) continue;
    const label = lineKeys.map((k) => `${k}=${row.keys[k]}`).join(", ") || metricLabel(y);
    if (!byLine.has(label)) byLine.set(label, []);
    byLine.get(label).push({ x: position(row.keys[x]), y: value.mean, spread: value.std });
  }
  if (!byLine.size) return el("p", { class: "muted" }, `No finished run has ${metricLabel(y)} yet.`);
  const lines = [...byLine.entries()].map(([label, points], i) => ({
    label, color: color(i), points: points.sort((a, b) => a.x - b.x),
  }));
  return el("div", {}, lineChart({
    id, title: `${metricLabel(y)} by ${x}`, xLabel: x, yLabel: metricLabel(y), lines, errorBars: true,
    categories: keyInfo.numeric ? null : xs, width: 560, height: 340,
  }), legend(lines));
}

function select(options, value, onchange, id) {
  return el("select", { id, onchange: (e) => onchange(e.target.value) },
    options.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
}

function metricOptions() {
  return state.data.metrics.map((m) => [m.id, m.label]);
}

function trends(rows) {
  const keys = state.data.keys.filter((k) => k.values.length > 1);
  const parts = state.data.trends.map((t, i) => trendChart(t.x, t.y, t.series, rows, "trend-" + i));
  if (keys.length && metricOptions().length) {
    if (!keys.some((k) => k.key === state.trendX)) state.trendX = keys[0].key;
    parts.push(el("div", { class: "controls" }, "Explore:",
      select(metricOptions(), state.trendY, (v) => { state.trendY = v; render(); }, "trend-y"),
      " by ",
      select(keys.map((k) => [k.key, k.key]), state.trendX, (v) => { state.trendX = v; render(); }, "trend-x")));
    parts.push(trendChart(state.trendX, state.trendY, null, rows, "trend-explore"));
  }
  return parts.length ? el("div", { id: "trends" }, parts) : null;
}

/** One vertical axis per matrix key and one for the metric; a line per row, coloured from
 * the best (dark blue) to the worst value (light). */
function parallel(rows) {
  const keys = state.data.keys.filter((k) => k.values.length > 1);
  if (!keys.length) return null;
  const metric = state.parallelY;
  const better = (state.data.metrics.find((m) => m.id === metric) || {}).better;
  const withValue = rows.filter((r) => r.metrics[metric]);
  const vals = withValue.map((r) => r.metrics[metric].mean);
  const [lo, hi] = extent(vals, 0.05);
  const width = Math.max(520, 150 * (keys.length + 1)), height = 320;
  const m = { l: 50, r: 70, t: 30, b: 24 };
  const step = (width - m.l - m.r) / keys.length;
  const ph = height - m.t - m.b;
  const axisY = (k, v) => {
    const i = k.values.indexOf(v);
    if (k.numeric) {
      const nums = k.values.map(Number);
      const [a, b] = extent(nums, 0.08);
      return m.t + ph - ((Number(v) - a) / (b - a)) * ph;
    }
    return m.t + (k.values.length === 1 ? ph / 2 : (i / (k.values.length - 1)) * ph);
  };
  const metricY = (v) => m.t + ph - ((v - lo) / (hi - lo)) * ph;
  const root = svg("svg", { width, height, id: "parallel-svg" });
  withValue.forEach((r) => {
    const v = r.metrics[metric].mean;
    const t = vals.length > 1 && Math.max(...vals) > Math.min(...vals)
      ? (v - Math.min(...vals)) / (Math.max(...vals) - Math.min(...vals)) : 0.5;
    const goodness = better === "lower" ? 1 - t : t;
    const shade = `hsl(212, 70%, ${Math.round(78 - goodness * 50)}%)`;
    const pts = keys.map((k, i) => `${m.l + i * step},${axisY(k, r.keys[k.key])}`);
    pts.push(`${m.l + keys.length * step},${metricY(v)}`);
    const line = svg("polyline", { points: pts.join(" "), fill: "none", stroke: shade, "stroke-width": 2, class: "pc-line" },
      svg("title", {}, `${r.label}: ${metricLabel(metric)} ${fmt(v)}`));
    line.addEventListener("mouseenter", () => line.setAttribute("stroke-width", 4));
    line.addEventListener("mouseleave", () => line.setAttribute("stroke-width", 2));
    root.append(line);
  });
  keys.forEach((k, i) => {
    const x = m.l + i * step;
    root.append(svg("line", { x1: x, x2: x, y1: m.t, y2: m.t + ph, class: "axis" }));
    root.append(svg("text", { x, y: 16, "text-anchor": "middle", class: "title" }, k.key));
    for (const v of k.values) root.append(svg("text", { x: x + 5, y: axisY(k, v) + 4 }, v));
  });
  const mx = m.l + keys.length * step;
  root.append(svg("line", { x1: mx, x2: mx, y1: m.t, y2: m.t + ph, class: "axis" }));
  root.append(svg("text", { x: mx, y: 16, "text-anchor": "middle", class: "title" }, metricLabel(metric)));
  for (const v of ticks(lo, hi, 5)) root.append(svg("text", { x: mx + 5, y: metricY(v) + 4 }, tickLabel(v)));
  return el("div", { id: "parallel" },
    el("div", { class: "controls" }, "Metric:", select(metricOptions(), metric, (v) => { state.parallelY = v; render(); }, "parallel-y")),
    el("div", { class: "chart" }, root));
}

function runs() {
  const data = state.data;
  const field = (name) => data.validation_fields.indexOf(name);
  const [fInputs, fLoss, fAcc, fTp] = ["inputs", "validation_loss", "accuracy_argmax", "throughput"].map(field);
  const head = el("tr", {}, ["id", "run", "state", "inputs", "validations", "validation loss", "accuracy", "throughput", "ETA", "started"]
    .map((h, i) => el("th", { class: i >= 3 && i <= 8 ? "num" : "" }, h)));
  const body = [];
  for (const run of data.runs) {
    const last = run.validations[run.validations.length - 1];
    const inputs = last ? last[fInputs] : 0;
    const share = Math.min(1, inputs / run.max_inputs);
    const open = state.openRuns.has(run.experiment_name);
    body.push(el("tr", {
      class: "run", "data-run": run.experiment_name, title: "show validations and config",
      onclick: () => {
        if (open) state.openRuns.delete(run.experiment_name); else state.openRuns.add(run.experiment_name);
        render();
      },
    },
    el("td", {}, run.matrix_id),
    el("td", {}, run.matrix_slug),
    el("td", { class: "state-" + run.state }, run.state),
    el("td", { class: "num" }, el("span", { class: "progress" }, el("i", { style: `width:${(share * 100).toFixed(1)}%` })),
      `${Math.round(inputs).toLocaleString("en-US")} / ${run.max_inputs.toLocaleString("en-US")}`),
    el("td", { class: "num validations" }, run.validations.length),
    el("td", { class: "num" }, last ? fmt(last[fLoss]) : ""),
    el("td", { class: "num" }, last ? fmt(last[fAcc]) : ""),
    el("td", { class: "num" }, last ? `${Math.round(last[fTp]).toLocaleString("en-US")}/s` : ""),
    el("td", { class: "num" }, run.eta_s === null ? "" : duration(run.eta_s)),
    el("td", {}, run.started_at || "")));
    if (open) body.push(el("tr", {}, el("td", { colspan: 10, class: "details" }, runDetails(run))));
  }
  return el("div", { class: "scroll" }, el("table", { id: "runs" }, el("thead", {}, head), el("tbody", {}, body)));
}

function runDetails(run) {
  const fields = state.data.validation_fields;
  return el("div", { class: "run-details" },
    run.error ? el("div", { class: "banner error" }, run.error) : null,
    el("p", {}, "Run folder ", el("code", {}, run.experiment_name),
      run.finished_at ? `, finished ${run.finished_at}` : ""),
    run.validations.length
      ? el("table", { class: "validations" },
        el("thead", {}, el("tr", {}, fields.map((f) => el("th", { class: "num" }, f)))),
        el("tbody", {}, run.validations.map((v) => el("tr", {}, v.map((x) => el("td", { class: "num" }, fmt(x)))))))
      : el("p", { class: "muted" }, "No validation yet."),
    el("p", {}, "Resolved config (", el("code", {}, "config.yaml"), "):"),
    el("pre", {}, run.config));
}

// ---------------------------------------------------------------- differences to the baseline

/** The markdown report's comparison table; a difference whose interval excludes 0 is bold. */
function comparison() {
  const c = state.data.comparison;
  if (!c) return null;
  const tested = c.compared - c.single;
  const verdict = c.compared === 0 ? "No row and its baseline have finished runs yet."
    : tested > 0 && c.significant === 0 ? "No difference is significant at this budget: every 95 % interval contains 0."
    : tested > 0 ? `${c.significant} of ${tested} differences have a 95 % interval that excludes 0: `
      + `${c.better} better than the baseline, ${c.significant - c.better} worse.`
      + (c.better === 0 ? " No row is significantly better than the baseline at this budget." : "")
    : "";
  const cell = (text, i) => {
    const bold = text.startsWith("**") && text.endsWith("**");
    const shown = bold ? el("strong", {}, text.slice(2, -2)) : text;
    return el("td", { class: i >= 2 && i <= 4 ? "num" : null }, shown);
  };
  return el("div", { id: "comparison" },
    el("p", {}, `Each row against the row where ${c.baseline}`,
      c.within.length ? ` with the same ${c.within.join(", ")}` : "",
      ": row − baseline with its 95 % interval and p-value (paired t-test when both rows ran the same seeds, else Welch's). Bold: the interval excludes 0."),
    verdict ? el("p", {}, verdict) : null,
    c.single ? el("p", { class: "muted" }, `${c.single} of ${c.compared} differences come from a single run on a side (n = 1): no interval, no p-value.`) : null,
    c.rows.length ? el("table", {},
      el("thead", {}, el("tr", {}, c.columns.map((h) => el("th", {}, h)))),
      el("tbody", {}, c.rows.map((row) => el("tr", {}, row.map(cell))))) : null);
}

// ---------------------------------------------------------------- the page

function render() {
  if (state.selected === null) {
    state.selected = new Set(state.data.rows.slice(0, DEFAULT_SELECTED).map((r) => r.label));
    // Explore something the file's own trends do not show already.
    if (state.data.trends.some((t) => t.y === state.trendY)) state.trendY = "validation_loss";
  }
  const rows = visibleRows();
  const scroll = window.scrollY;
  const app = document.getElementById("app");
  app.replaceChildren(
    header(),
    el("h2", {}, "Results"),
    filters(),
    runTable(rows),
    state.data.comparison ? el("h2", {}, "Differences to the baseline " + state.data.comparison.baseline) : null,
    comparison(),
    el("h2", {}, "Learning curves"),
    curves(rows),
    state.data.keys.some((k) => k.values.length > 1) ? el("h2", {}, "Trends") : null,
    trends(rows),
    state.data.keys.some((k) => k.values.length > 1) ? el("h2", {}, "Parallel coordinates") : null,
    parallel(rows),
    el("h2", {}, "Runs"),
    el("p", { class: "muted" }, "Click a run for its validations and resolved config."),
    runs());
  window.scrollTo(0, scroll);
  if (window.expgridFirstRenderMs === undefined) window.expgridFirstRenderMs = performance.now();
  document.documentElement.dataset.ready = "true";
}

/** Fetch the data again; redraw only when it changed (an open menu or a hover survives). */
async function poll() {
  let text;
  try {
    const response = await fetch(state.data.poll, { cache: "no-store" });
    text = await response.text();
  } catch (err) {
    state.fetchError = "cannot reach expgrid serve: " + err.message;
    render();
    return;
  }
  state.refreshed = new Date();
  if (text === state.lastText) {
    const live = document.getElementById("live");
    if (live) live.replaceWith(header().querySelector("#live"));
    return;
  }
  state.lastText = text;
  const fresh = JSON.parse(text);
  if (fresh.error) {
    state.fetchError = fresh.error;
  } else {
    state.data = fresh;
    state.fetchError = null;
  }
  render();
}

state.refreshed = state.data.poll ? new Date() : null;
render();
if (state.data.poll) setInterval(poll, POLL_MS);

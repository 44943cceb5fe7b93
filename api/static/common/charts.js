/* Small SVG charts for the staff pages: a line chart (1–2 series), bars (horizontal or
 * vertical, grouped or stacked), a funnel and 0–100 score bars / gauge. Plain ES2020,
 * no dependencies, no external resources; an ES module (import { line, … } from it).
 *
 * Every chart is a <figure class="hxc"> holding an <svg role="img"> with a <title> and
 * a <desc>, a legend when there are several series, and a <details> "查看数据" with the
 * numbers as a table — what a screen reader (or anyone) can read instead of the shapes.
 * The svg scales to its container through its viewBox. Colours come from CSS classes
 * (hxc-s0, hxc-s1, … in analytics.css), so charts follow the page's palette. Text is
 * only ever set with textContent.
 */

const NS = "http://www.w3.org/2000/svg";
let counter = 0;

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      el.setAttribute(key, String(value));
    }
  }
  if (text !== undefined && text !== null) el.textContent = String(text);
  return el;
}

function htmlEl(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined && text !== null) el.textContent = String(text);
  return el;
}

function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/* A number for people: fixed digits, a unit, "—" when missing. */
function fmt(v, digits, unit) {
  if (!isNum(v)) return "—";
  const d = digits === undefined ? (Number.isInteger(v) ? 0 : 1) : digits;
  return v.toFixed(d) + (unit || "");
}

/* Approximate width of a label in svg units: CJK characters are about one em wide. */
function textWidth(text, size) {
  let w = 0;
  for (const ch of String(text)) w += ch.charCodeAt(0) > 0x2e7f ? size : size * 0.6;
  return w;
}

function truncate(text, max) {
  const chars = Array.from(String(text));
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : chars.join("");
}

/* Round numbers for an axis between lo and hi (about ``count`` of them). */
function ticks(lo, hi, count) {
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

function frame(opts, width, height) {
  const id = "hxc" + ++counter;
  const svg = svgEl("svg", {
    viewBox: "0 0 " + width + " " + height,
    role: "img",
    "aria-labelledby": id + "-t " + id + "-d",
    preserveAspectRatio: "xMidYMid meet",
    class: "hxc-svg",
  });
  svg.appendChild(svgEl("title", { id: id + "-t" }, opts.title || "图表"));
  svg.appendChild(svgEl("desc", { id: id + "-d" }, opts.description || ""));
  return svg;
}

function dataTable(headers, rows, caption) {
  const details = htmlEl("details", "hxc-data");
  details.appendChild(htmlEl("summary", null, "查看数据"));
  const wrap = htmlEl("div", "table-wrap");
  const table = htmlEl("table", "table hxc-table");
  if (caption) table.appendChild(htmlEl("caption", "sr-only", caption));
  const thead = htmlEl("thead");
  const hr = htmlEl("tr");
  headers.forEach((head, i) => hr.appendChild(htmlEl("th", i ? "num" : null, head)));
  thead.appendChild(hr);
  table.appendChild(thead);
  const tbody = htmlEl("tbody");
  rows.forEach((row) => {
    const tr = htmlEl("tr");
    row.forEach((cell, i) => tr.appendChild(htmlEl("td", i ? "num" : null, cell)));
    tbody.appendChild(tr);
  });
  table.appendChild(tbody);
  wrap.appendChild(table);
  details.appendChild(wrap);
  return details;
}

function legend(names, classes) {
  const ul = htmlEl("ul", "hxc-legend");
  names.forEach((name, i) => {
    const li = htmlEl("li");
    const sw = htmlEl("span", "hxc-swatch " + classes[i]);
    sw.setAttribute("aria-hidden", "true");
    li.appendChild(sw);
    li.appendChild(document.createTextNode(name));
    ul.appendChild(li);
  });
  return ul;
}

function figure(opts, svg, extra) {
  const fig = htmlEl("figure", "hxc" + (opts.className ? " " + opts.className : ""));
  if (opts.testid) fig.setAttribute("data-testid", opts.testid);
  fig.appendChild(svg);
  (extra || []).forEach((el) => el && fig.appendChild(el));
  return fig;
}

function seriesClass(i, s) {
  return (s && s.className) || "hxc-s" + i;
}

// ------------------------------------------------------------------ line chart

/* opts: {title, description, labels: [x labels], series: [{name, values: [number|null]}],
 *        yMin, yMax, unit, digits, yLabel, testid}
 * A missing value (null) leaves a gap in the line. */
function line(opts) {
  const W = 640, H = 250, L = 44, R = 14, T = 14, B = 34;
  const labels = opts.labels || [];
  const series = opts.series || [];
  const all = [];
  series.forEach((s) => s.values.forEach((v) => isNum(v) && all.push(v)));
  let lo = isNum(opts.yMin) ? opts.yMin : Math.min(0, ...all);
  let hi = isNum(opts.yMax) ? opts.yMax : Math.max(1, ...all);
  if (all.length) {
    lo = Math.min(lo, ...all);
    hi = Math.max(hi, ...all);
  }
  const n = Math.max(labels.length, 1);
  const x = (i) => (n === 1 ? L + (W - L - R) / 2 : L + (i * (W - L - R)) / (n - 1));
  const y = (v) => T + ((hi - v) * (H - T - B)) / (hi - lo || 1);
  const svg = frame(opts, W, H);

  const grid = svgEl("g", { class: "hxc-grid", "aria-hidden": "true" });
  ticks(lo, hi, 5).forEach((t) => {
    grid.appendChild(svgEl("line", { x1: L, x2: W - R, y1: y(t), y2: y(t), class: t === 0 ? "hxc-zero" : null }));
    grid.appendChild(svgEl("text", { x: L - 6, y: y(t) + 4, "text-anchor": "end", class: "hxc-tick" }, fmt(t, 0)));
  });
  const every = Math.max(1, Math.ceil(n / 8));
  labels.forEach((lab, i) => {
    const last = i === n - 1;
    if (i % every !== 0 && !last) return;
    if (last && i % every !== 0 && (n - 1) % every < every / 2) return; // too close to the one before
    grid.appendChild(svgEl("text", { x: x(i), y: H - B + 16, "text-anchor": "middle", class: "hxc-tick" }, lab));
  });
  if (opts.yLabel) grid.appendChild(svgEl("text", { x: 4, y: T - 2, class: "hxc-tick" }, opts.yLabel));
  svg.appendChild(grid);

  series.forEach((s, si) => {
    const cls = seriesClass(si, s);
    const g = svgEl("g", { class: "hxc-series " + cls });
    let d = "";
    let open = false;
    s.values.forEach((v, i) => {
      if (!isNum(v)) {
        open = false;
        return;
      }
      d += (open ? " L" : " M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      open = true;
    });
    if (d) g.appendChild(svgEl("path", { d: d.trim(), class: "hxc-line" }));
    s.values.forEach((v, i) => {
      if (!isNum(v)) return;
      const dot = svgEl("circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, class: "hxc-dot" });
      dot.appendChild(svgEl("title", null, s.name + " " + (labels[i] || "") + "：" + fmt(v, opts.digits, opts.unit)));
      g.appendChild(dot);
    });
    svg.appendChild(g);
  });

  const rows = labels.map((lab, i) => [lab].concat(series.map((s) => fmt(s.values[i], opts.digits, opts.unit))));
  return figure(Object.assign({ className: "hxc-linechart" }, opts), svg, [
    series.length > 1 ? legend(series.map((s) => s.name), series.map((s, i) => seriesClass(i, s))) : null,
    dataTable([opts.xName || "时间"].concat(series.map((s) => s.name)), rows, opts.title),
  ]);
}

// ------------------------------------------------------------------ bars

/* Vertical bars per category, one bar per series side by side, or stacked.
 * opts: {title, description, categories: [labels], series: [{name, values, className}],
 *        stacked, yMin, yMax, unit, digits, testid} */
function columns(opts) {
  const W = 640, H = 250, L = 44, R = 14, T = 16, B = 34;
  const cats = opts.categories || [];
  const series = opts.series || [];
  const totals = cats.map((_, i) => series.reduce((sum, s) => sum + (isNum(s.values[i]) ? s.values[i] : 0), 0));
  const all = [];
  series.forEach((s) => s.values.forEach((v) => isNum(v) && all.push(v)));
  let lo = isNum(opts.yMin) ? opts.yMin : 0;
  let hi = isNum(opts.yMax) ? opts.yMax : 1;
  lo = Math.min(lo, ...(opts.stacked ? [0] : all));
  hi = Math.max(hi, ...(opts.stacked ? totals : all));
  const y = (v) => T + ((hi - v) * (H - T - B)) / (hi - lo || 1);
  const band = (W - L - R) / Math.max(cats.length, 1);
  const inner = band * 0.7;
  const svg = frame(opts, W, H);

  const grid = svgEl("g", { class: "hxc-grid", "aria-hidden": "true" });
  ticks(lo, hi, 5).forEach((t) => {
    grid.appendChild(svgEl("line", { x1: L, x2: W - R, y1: y(t), y2: y(t), class: t === 0 ? "hxc-zero" : null }));
    grid.appendChild(svgEl("text", { x: L - 6, y: y(t) + 4, "text-anchor": "end", class: "hxc-tick" }, fmt(t, 0)));
  });
  const every = Math.max(1, Math.ceil(cats.length / 10));
  cats.forEach((c, i) => {
    if (i % every) return;
    grid.appendChild(svgEl("text", { x: L + band * i + band / 2, y: H - B + 16, "text-anchor": "middle", class: "hxc-tick" },
      truncate(c, Math.max(2, Math.floor(band * every / 12)))));
  });
  svg.appendChild(grid);

  cats.forEach((c, i) => {
    let base = 0;
    series.forEach((s, si) => {
      const v = s.values[i];
      if (!isNum(v)) return;
      let x0, w, top, bottom;
      if (opts.stacked) {
        x0 = L + band * i + (band - inner) / 2;
        w = inner;
        top = y(base + v);
        bottom = y(base);
        base += v;
      } else {
        w = inner / series.length;
        x0 = L + band * i + (band - inner) / 2 + w * si;
        top = y(Math.max(v, 0));
        bottom = y(Math.min(v, 0));
      }
      const rect = svgEl("rect", { x: x0.toFixed(1), y: top.toFixed(1), width: Math.max(w - 1, 1).toFixed(1),
        height: Math.max(bottom - top, v ? 1 : 0).toFixed(1), class: "hxc-bar " + seriesClass(si, s) });
      rect.appendChild(svgEl("title", null, c + " · " + s.name + "：" + fmt(v, opts.digits, opts.unit)));
      svg.appendChild(rect);
      if (!opts.stacked && opts.showValues !== false && w >= 18) {
        // a negative bar's value goes just above the zero line, clear of the axis labels
        svg.appendChild(svgEl("text", { x: (x0 + w / 2).toFixed(1), y: (v >= 0 ? top - 4 : y(0) - 4).toFixed(1),
          "text-anchor": "middle", class: "hxc-value", "aria-hidden": "true" }, fmt(v, 0)));
      }
    });
  });

  const rows = cats.map((c, i) => [c].concat(series.map((s) => fmt(s.values[i], opts.digits, opts.unit))));
  return figure(Object.assign({ className: "hxc-columns" }, opts), svg, [
    series.length > 1 ? legend(series.map((s) => s.name), series.map((s, i) => seriesClass(i, s))) : null,
    dataTable([opts.xName || "类别"].concat(series.map((s) => s.name)), rows, opts.title),
  ]);
}

/* Horizontal bars, one per item, with the label on the left and the value on the right.
 * opts: {title, description, items: [{label, value, note, className, flag}], max, unit,
 *        digits, testid} */
function bars(opts) {
  const items = opts.items || [];
  const size = 13, rowH = 28, T = 6;
  const labelW = Math.min(200, Math.max(60, ...items.map((it) => textWidth(it.label, size))) + 10);
  const W = 640, valueW = 70;
  const H = T * 2 + rowH * Math.max(items.length, 1);
  const max = isNum(opts.max) ? opts.max : Math.max(1, ...items.map((it) => (isNum(it.value) ? it.value : 0)));
  const track = W - labelW - valueW;
  const svg = frame(opts, W, H);
  items.forEach((it, i) => {
    const cy = T + rowH * i + rowH / 2;
    svg.appendChild(svgEl("text", { x: labelW - 8, y: cy + 4, "text-anchor": "end", class: "hxc-label" }, it.label));
    svg.appendChild(svgEl("rect", { x: labelW, y: cy - 8, width: track, height: 16, rx: 3, class: "hxc-track" }));
    const v = isNum(it.value) ? Math.max(0, it.value) : 0;
    const rect = svgEl("rect", { x: labelW, y: cy - 8, width: ((track * Math.min(v, max)) / max).toFixed(1), height: 16, rx: 3,
      class: "hxc-bar " + (it.className || (it.flag ? "hxc-flag" : "hxc-s0")) });
    rect.appendChild(svgEl("title", null, it.label + "：" + fmt(it.value, opts.digits, opts.unit) + (it.note ? "（" + it.note + "）" : "")));
    svg.appendChild(rect);
    svg.appendChild(svgEl("text", { x: labelW + track + 8, y: cy + 4, class: "hxc-value" }, fmt(it.value, opts.digits, opts.unit)));
  });
  const rows = items.map((it) => [it.label, fmt(it.value, opts.digits, opts.unit)].concat(opts.noteName ? [it.note || ""] : []));
  return figure(Object.assign({ className: "hxc-bars" }, opts), svg, [dataTable(["项目", opts.valueName || "数值"].concat(opts.noteName ? [opts.noteName] : []), rows, opts.title)]);
}

/* A funnel: centred bars, widest first. opts: {title, items: [{label, value, className}], unit, testid} */
function funnel(opts) {
  const items = opts.items || [];
  const W = 640, rowH = 34, T = 4, labelW = 110, valueW = 90;
  const H = T * 2 + rowH * Math.max(items.length, 1);
  const max = Math.max(1, ...items.map((it) => it.value || 0));
  const total = items.reduce((s, it) => s + (it.value || 0), 0);
  const track = W - labelW - valueW;
  const svg = frame(opts, W, H);
  items.forEach((it, i) => {
    const cy = T + rowH * i + rowH / 2;
    const w = Math.max((track * (it.value || 0)) / max, it.value ? 2 : 0);
    svg.appendChild(svgEl("text", { x: labelW - 8, y: cy + 4, "text-anchor": "end", class: "hxc-label" }, it.label));
    const rect = svgEl("rect", { x: (labelW + (track - w) / 2).toFixed(1), y: cy - 12, width: w.toFixed(1), height: 24, rx: 4,
      class: "hxc-bar " + (it.className || "hxc-s" + (i % 6)) });
    rect.appendChild(svgEl("title", null, it.label + "：" + (it.value || 0) + (opts.unit || "")));
    svg.appendChild(rect);
    const share = total ? " · " + fmt((100 * (it.value || 0)) / total, 1, "%") : "";
    svg.appendChild(svgEl("text", { x: labelW + track + 8, y: cy + 4, class: "hxc-value" }, (it.value || 0) + share));
  });
  const rows = items.map((it) => [it.label, String(it.value || 0), total ? fmt((100 * (it.value || 0)) / total, 1, "%") : "—"]);
  return figure(Object.assign({ className: "hxc-funnel" }, opts), svg, [dataTable(["阶段", opts.valueName || "人数", "占比"], rows, opts.title)]);
}

// ------------------------------------------------------------------ scores

/* Scores 0–100 as bars on a graded track; a flagged item is marked (e.g. 需改进).
 * opts: {title, items: [{label, value, flag, flagText, note}], testid} */
function scores(opts) {
  const items = opts.items || [];
  const size = 13, rowH = 32, T = 8;
  const labelW = Math.min(200, Math.max(60, ...items.map((it) => textWidth(it.label, size))) + 10);
  const W = 640, valueW = 110;
  const H = T * 2 + rowH * Math.max(items.length, 1) + 14;
  const track = W - labelW - valueW;
  const svg = frame(opts, W, H);
  [0, 50, 100].forEach((t) => {
    const gx = labelW + (track * t) / 100;
    svg.appendChild(svgEl("text", { x: gx, y: H - 4, "text-anchor": "middle", class: "hxc-tick", "aria-hidden": "true" }, t));
  });
  items.forEach((it, i) => {
    const cy = T + rowH * i + rowH / 2;
    const v = isNum(it.value) ? Math.max(0, Math.min(100, it.value)) : 0;
    svg.appendChild(svgEl("text", { x: labelW - 8, y: cy + 4, "text-anchor": "end", class: "hxc-label" + (it.flag ? " hxc-label-flag" : "") }, it.label));
    svg.appendChild(svgEl("rect", { x: labelW, y: cy - 9, width: track, height: 18, rx: 9, class: "hxc-track" }));
    const cls = it.flag ? "hxc-flag" : v >= 80 ? "hxc-good" : v >= 60 ? "hxc-s0" : "hxc-warn";
    const rect = svgEl("rect", { x: labelW, y: cy - 9, width: ((track * v) / 100).toFixed(1), height: 18, rx: 9, class: "hxc-bar " + cls });
    rect.appendChild(svgEl("title", null, it.label + "：" + fmt(it.value, 1) + " 分" + (it.flag ? "（" + (it.flagText || "需改进") + "）" : "")));
    svg.appendChild(rect);
    svg.appendChild(svgEl("text", { x: labelW + track + 8, y: cy + 4, class: "hxc-value" + (it.flag ? " hxc-value-flag" : "") },
      fmt(it.value, 1) + (it.flag ? " " + (it.flagText || "需改进") : "")));
  });
  const rows = items.map((it) => [it.label, fmt(it.value, 1), it.flag ? it.flagText || "需改进" : "", it.note || ""]);
  return figure(Object.assign({ className: "hxc-scores" }, opts), svg, [dataTable(["环节", "评分（0–100）", "标记", "说明"], rows, opts.title)]);
}

/* One value on a half-circle from min to max (0–100 by default). opts: {title, value, min, max, unit, label, testid} */
function gauge(opts) {
  const min = isNum(opts.min) ? opts.min : 0, max = isNum(opts.max) ? opts.max : 100;
  const W = 200, H = 120, cx = 100, cy = 100, r = 80;
  const svg = frame(Object.assign({ description: (opts.label || opts.title || "") + "：" + fmt(opts.value, opts.digits, opts.unit) }, opts), W, H);
  const point = (frac) => {
    const a = Math.PI * (1 - frac);
    return [cx + r * Math.cos(a), cy - r * Math.sin(a)];
  };
  const arc = (from, to, cls) => {
    const [x0, y0] = point(from), [x1, y1] = point(to);
    return svgEl("path", { d: "M " + x0.toFixed(1) + " " + y0.toFixed(1) + " A " + r + " " + r + " 0 0 1 " + x1.toFixed(1) + " " + y1.toFixed(1), class: cls });
  };
  svg.appendChild(arc(0, 1, "hxc-gauge-track"));
  if (isNum(opts.value)) {
    const frac = Math.max(0, Math.min(1, (opts.value - min) / (max - min || 1)));
    if (frac > 0.001) svg.appendChild(arc(0, frac, "hxc-gauge-fill " + (opts.className || "hxc-s0")));
  }
  svg.appendChild(svgEl("text", { x: cx, y: cy - 8, "text-anchor": "middle", class: "hxc-gauge-value" }, fmt(opts.value, opts.digits, opts.unit)));
  svg.appendChild(svgEl("text", { x: cx - r, y: cy + 16, "text-anchor": "middle", class: "hxc-tick", "aria-hidden": "true" }, min));
  svg.appendChild(svgEl("text", { x: cx + r, y: cy + 16, "text-anchor": "middle", class: "hxc-tick", "aria-hidden": "true" }, max));
  return figure(Object.assign({ className: "hxc-gauge" }, opts), svg);
}

/* A thin inline bar for a share 0–1 (e.g. a weight), with its percentage as text. */
function meter(value, label) {
  const v = isNum(value) ? Math.max(0, Math.min(1, value)) : 0;
  const wrap = htmlEl("span", "hxc-meter");
  const svg = svgEl("svg", { viewBox: "0 0 100 8", preserveAspectRatio: "none", "aria-hidden": "true", class: "hxc-meter-svg" });
  svg.appendChild(svgEl("rect", { x: 0, y: 0, width: 100, height: 8, rx: 4, class: "hxc-track" }));
  svg.appendChild(svgEl("rect", { x: 0, y: 0, width: (100 * v).toFixed(1), height: 8, rx: 4, class: "hxc-bar hxc-s0" }));
  wrap.appendChild(svg);
  wrap.appendChild(htmlEl("span", "hxc-meter-text", (label ? label + " " : "") + fmt(100 * v, 0, "%")));
  return wrap;
}

export { line, columns, bars, funnel, scores, gauge, meter, fmt, ticks };

/// The dashboard page, written in this project and served from the binary
/// (`/`, `/app.css`, `/app.js`): no CDN, nothing fetched from elsewhere,
/// charts drawn as SVG by the script. Elements carry `data-field` /
/// `data-group` / `data-col` attributes so that the browser test reads
/// rendered numbers without depending on layout.
enum DashboardPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>stave · listening dashboard</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/app.css">
    <script src="/app.js" defer></script>
    </head>
    <body>
    <header class="top">
      <div class="brand">
        <h1>Listening dashboard</h1>
        <p class="live" id="live" data-state="connecting"><span class="dot"></span><span id="live-text">connecting…</span></p>
      </div>
      <form id="range" class="range" autocomplete="off">
        <label>From <input type="date" id="from"></label>
        <label>To <input type="date" id="to"></label>
        <button type="submit">Apply</button>
        <button type="button" id="all" class="quiet">All time</button>
        <span id="months" class="chips"></span>
        <span class="hint">both days included</span>
      </form>
    </header>
    <main>
      <section class="kpis" id="headline" aria-label="Headline numbers">
        <div class="kpi"><span class="label">Events</span><span class="value" data-field="events">–</span><span class="sub" data-field="store_events"></span></div>
        <div class="kpi"><span class="label">Active customers</span><span class="value" data-field="active_customers">–</span><span class="sub" data-field="customers"></span></div>
        <div class="kpi"><span class="label">Mobile share</span><span class="value" data-field="mobile_share">–</span><span class="sub" data-field="mobile_events"></span></div>
        <div class="kpi"><span class="label">Plays per active customer</span><span class="value" data-field="per_customer">–</span><span class="sub">on average</span></div>
        <div class="kpi"><span class="label">First and last event</span><span class="value small" data-field="span">–</span><span class="sub" data-field="parts"></span></div>
        <p class="error" id="summary-error" hidden></p>
      </section>

      <section class="panel wide">
        <h2>Plays by hour of day</h2>
        <p class="note">Bars colored by part of the day; the lighter top is the share not on mobile.</p>
        <div class="chart" id="hours-chart"></div>
        <div class="legend" id="hours-legend"></div>
        <p class="error" id="hours-error" hidden></p>
      </section>

      <section class="panel">
        <h2>Plays by part of day</h2>
        <div id="parts-chart"></div>
        <p class="error" id="parts-error" hidden></p>
      </section>

      <section class="panel">
        <h2>Part of day by level</h2>
        <p class="note">Share of each level's plays in each part of the day.</p>
        <div id="level-parts-chart"></div>
        <div class="legend" id="level-legend"></div>
        <p class="error" id="level-parts-error" hidden></p>
      </section>

      <section class="panel wide">
        <h2>Hour of day by level</h2>
        <p class="note">Share of each level's plays per hour (the axis does not start at zero).</p>
        <div class="chart" id="level-hours-chart"></div>
        <div class="legend" id="level-hours-legend"></div>
        <p class="error" id="level-hours-error" hidden></p>
      </section>

      <section class="panel wide">
        <h2>Customers and average profile</h2>
        <div class="tabs" role="tablist" id="breakdown-tabs">
          <button type="button" role="tab" data-key="level" aria-selected="true">Level</button>
          <button type="button" role="tab" data-key="campaign">Campaign</button>
          <button type="button" role="tab" data-key="gender">Gender</button>
          <button type="button" role="tab" data-key="status">Status</button>
        </div>
        <div class="breakdowns">
          <div class="breakdown" data-breakdown="level"></div>
          <div class="breakdown" data-breakdown="campaign" hidden></div>
          <div class="breakdown" data-breakdown="gender" hidden></div>
          <div class="breakdown" data-breakdown="status" hidden></div>
        </div>
        <p class="note">Averages per active customer (with an event in the range); customers counts the customer table.</p>
        <p class="error" id="breakdown-error" hidden></p>
      </section>

      <section class="panel">
        <h2>Top listening zips</h2>
        <div class="scroll"><table id="zips"><thead><tr><th>#</th><th>Zip</th><th class="num">Events</th><th class="num">Customers</th><th class="num">Mobile</th></tr></thead><tbody></tbody></table></div>
        <p class="error" id="zips-error" hidden></p>
      </section>

      <section class="panel">
        <h2>Customer lookup</h2>
        <form id="lookup" class="lookup" autocomplete="off">
          <label for="customer-id">Customer id</label>
          <input id="customer-id" inputmode="numeric" pattern="[0-9]*" placeholder="e.g. 48" required>
          <button type="submit">Look up</button>
        </form>
        <div id="customer" hidden></div>
        <p class="error" id="customer-error" hidden></p>
      </section>

      <section class="panel wide">
        <h2>Column statistics of the profiles</h2>
        <div class="scroll"><table id="stats"><thead><tr><th>Column</th><th class="num">Count</th><th class="num">Mean</th><th class="num">Std dev</th><th class="num">Min</th><th class="num">Max</th><th class="num">Non-zeros</th><th class="num">L1 norm</th><th class="num">L2 norm</th></tr></thead><tbody></tbody></table></div>
        <p class="error" id="stats-error" hidden></p>
      </section>
    </main>
    <footer>stave · every number above comes from <a href="/api">the JSON API</a>, the same answers as the command line</footer>
    </body>
    </html>

    """#

    static let style = #"""
    :root {
      --bg: #f5f6f8; --card: #fff; --ink: #1d2433; --muted: #5d6778; --line: #e3e6eb;
      --accent: #2f6fde; --bad: #b3261e;
      --morning: #f2a93b; --afternoon: #e4572e; --evening: #5b5f97; --night: #1f2a44;
      --free: #8d99ae; --silver: #4f9dde; --gold: #d4a017; --unknown: #b9b9b9;
      font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
      color: var(--ink); background: var(--bg);
    }
    * { box-sizing: border-box; }
    body { margin: 0; }
    .top { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: flex-end; justify-content: space-between;
           padding: 16px 24px; background: var(--card); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
    h1 { font-size: 1.3rem; margin: 0 0 4px; }
    h2 { font-size: 1rem; margin: 0 0 8px; }
    .live { margin: 0; font-size: .85rem; color: var(--muted); display: flex; align-items: center; gap: 6px; }
    .live .dot { width: 9px; height: 9px; border-radius: 50%; background: #aaa; }
    .live[data-state="live"] .dot { background: #1f9d55; box-shadow: 0 0 0 3px #1f9d5533; }
    .live[data-state="down"] .dot { background: var(--bad); }
    .range { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; font-size: .9rem; }
    .range label { display: flex; gap: 6px; align-items: center; color: var(--muted); }
    input, button { font: inherit; }
    input { padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: var(--ink); }
    button { padding: 5px 12px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
    button.quiet, .chips button { background: #fff; color: var(--accent); }
    .chips { display: inline-flex; flex-wrap: wrap; gap: 6px; }
    .chips button[aria-pressed="true"] { background: var(--accent); color: #fff; }
    .hint { color: var(--muted); font-size: .8rem; }
    main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 16px; padding: 16px 24px; max-width: 1400px; margin: 0 auto; }
    .panel { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; min-width: 0; }
    .wide, .kpis { grid-column: 1 / -1; }
    .kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
    .kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; display: flex; flex-direction: column; gap: 2px; }
    .kpi .label { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
    .kpi .value { font-size: 1.7rem; font-weight: 650; font-variant-numeric: tabular-nums; }
    .kpi .value.small { font-size: 1rem; line-height: 1.5; }
    .kpi .sub { color: var(--muted); font-size: .8rem; }
    .note { color: var(--muted); font-size: .8rem; margin: 0 0 8px; }
    .error { color: var(--bad); font-size: .9rem; }
    svg { display: block; width: 100%; height: auto; overflow: visible; }
    svg text { font-size: 11px; fill: var(--muted); }
    svg .grid { stroke: var(--line); }
    .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: .8rem; color: var(--muted); margin-top: 6px; }
    .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
    .bars { display: grid; gap: 8px; }
    .bar-row { display: grid; grid-template-columns: 7.5em 1fr; gap: 8px; align-items: center; font-size: .85rem; }
    .bar-track { background: #eef0f3; border-radius: 4px; height: 16px; overflow: hidden; }
    .bar-fill { height: 100%; border-radius: 4px; }
    .bar-text { color: var(--muted); font-size: .8rem; margin-top: 2px; font-variant-numeric: tabular-nums; }
    .scroll { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; font-size: .85rem; font-variant-numeric: tabular-nums; }
    th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
    th { color: var(--muted); font-weight: 600; font-size: .78rem; }
    .num { text-align: right; }
    td.barcell { position: relative; }
    td.barcell span.fill { position: absolute; left: 0; top: 4px; bottom: 4px; background: #2f6fde22; border-radius: 3px; }
    .tabs { display: flex; gap: 6px; margin-bottom: 10px; flex-wrap: wrap; }
    .tabs button { background: #fff; color: var(--accent); }
    .tabs button[aria-selected="true"] { background: var(--accent); color: #fff; }
    .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
    .lookup { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-bottom: 10px; }
    .lookup input { width: 9em; }
    dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0 0 10px; font-size: .9rem; }
    dt { color: var(--muted); }
    dd { margin: 0; font-variant-numeric: tabular-nums; }
    footer { color: var(--muted); font-size: .8rem; text-align: center; padding: 8px 24px 24px; }
    footer a { color: var(--accent); }
    @media (max-width: 600px) {
      .top { padding: 12px; position: static; }
      main { padding: 12px; gap: 12px; }
      .kpis { grid-template-columns: 1fr 1fr; }
      .kpis .kpi:last-of-type { grid-column: 1 / -1; }
      .kpi .value { font-size: 1.35rem; }
      .hint { display: none; }
    }

    """#

    static let script = #"""
    'use strict';
    // The dashboard: fetches /api/*, draws tables and SVG charts, and
    // refreshes everything when /api/events announces a commit.
    (function () {
      const SVG = 'http://www.w3.org/2000/svg';
      const PARTS = ['morning', 'afternoon', 'evening', 'night'];
      const PART_HOURS = { morning: '05–12', afternoon: '12–17', evening: '17–22', night: '22–05' };
      const COLORS = { morning: '#f2a93b', afternoon: '#e4572e', evening: '#5b5f97', night: '#1f2a44',
                       Free: '#8d99ae', Silver: '#4f9dde', Gold: '#d4a017', unknown: '#b9b9b9' };
      const GROUP_NAMES = {
        gender: { '0': 'Gender 0', '1': 'Gender 1' },
        status: { '0': 'Closed (0)', '1': 'Active (1)' },
      };
      const ints = new Intl.NumberFormat('en-US');
      const one = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
      const two = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
      const $ = (id) => document.getElementById(id);
      const fmtInt = (v) => (v == null ? '–' : ints.format(v));
      const fmtPct = (v) => (v == null ? '–' : one.format(100 * v) + '%');
      const fmtAvg = (v) => (v == null ? '–' : one.format(v));

      let range = { from: '', to: '' };   // API bounds: from inclusive, to exclusive
      let customerShown = null;
      let breakdownKey = 'level';
      let refreshing = null, again = false, firstDone = false;

      // ---- helpers -------------------------------------------------------
      function h(tag, attrs, ...children) {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
          if (k === 'text') e.textContent = v; else if (k === 'class') e.className = v; else e.setAttribute(k, v);
        }
        for (const c of children) e.append(c);
        return e;
      }
      function s(tag, attrs, parent) {
        const e = document.createElementNS(SVG, tag);
        for (const [k, v] of Object.entries(attrs || {})) {
          if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
        }
        if (parent) parent.appendChild(e);
        return e;
      }
      function svgRoot(width, height, label) {
        return s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' });
      }
      function query(extra) {
        const p = new URLSearchParams();
        if (range.from) p.set('from', range.from);
        if (range.to) p.set('to', range.to);
        for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
        const q = p.toString();
        return q ? '?' + q : '';
      }
      async function api(path, extra) {
        const r = await fetch('/api/' + path + query(extra), { cache: 'no-store' });
        let body = null;
        try { body = await r.json(); } catch (e) { throw new Error(`${r.status} ${r.statusText}`); }
        if (!r.ok) throw new Error(body && body.error ? body.error : `${r.status} ${r.statusText}`);
        return body;
      }
      function showError(id, err) {
        const e = $(id);
        if (!e) return;
        if (err) { e.textContent = String(err.message || err); e.hidden = false; } else { e.hidden = true; }
      }
      /// Axis ticks for [lo, hi]: about four steps of 1, 2, 2.5 or 5 times a power of ten.
      function ticks(lo, hi) {
        if (!(hi > lo)) hi = lo + 1;
        const raw = (hi - lo) / 4, p = Math.pow(10, Math.floor(Math.log10(raw)));
        const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v >= raw);
        const start = Math.floor(lo / step + 1e-9) * step, end = Math.ceil(hi / step - 1e-9) * step;
        const out = [];
        for (let v = start; v <= end + step / 2; v += step) out.push(+v.toPrecision(12));
        return out;
      }
      /// Horizontal grid lines and labels; returns the y scale.
      function axis(svg, t, geometry, label) {
        const { W, H, L, B, T, R } = geometry, lo = t[0], hi = t[t.length - 1];
        const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
        for (const v of t) {
          s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }, svg);
          s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', text: label(v) }, svg);
        }
        return y;
      }
      function partOf(hour) { return hour < 5 || hour >= 22 ? 'night' : hour < 12 ? 'morning' : hour < 17 ? 'afternoon' : 'evening'; }
      function legend(id, names) {
        const box = $(id);
        box.replaceChildren(...names.map((n) => {
          const i = h('i'); i.style.background = COLORS[n] || '#999';
          return h('span', {}, i, n[0].toUpperCase() + n.slice(1));
        }));
      }
      function field(name, text) {
        for (const e of document.querySelectorAll(`[data-field="${name}"]`)) e.textContent = text;
      }
      function localTime(iso) {
        const d = new Date(iso);
        return isNaN(d) ? iso : d.toLocaleString();
      }

      // ---- panels --------------------------------------------------------
      function renderSummary(sum) {
        field('events', fmtInt(sum.events));
        field('store_events', `of ${fmtInt(sum.store_events)} in the store`);
        field('active_customers', fmtInt(sum.active_customers));
        field('customers', sum.customers == null ? 'no customer table' : `of ${fmtInt(sum.customers)} customers`);
        field('mobile_share', fmtPct(sum.mobile_share));
        field('mobile_events', `${fmtInt(sum.mobile_events)} mobile plays`);
        field('per_customer', sum.active_customers ? one.format(sum.events / sum.active_customers) : '–');
        field('span', sum.first_event ? `${sum.first_event} → ${sum.last_event}` : 'no events in range');
        field('parts', `${fmtInt(sum.parts)} part${sum.parts === 1 ? '' : 's'} · commit ${sum.generation}`);
        document.body.dataset.generation = String(sum.generation);
        return sum;
      }

      function renderHours(rows) {
        const W = 720, H = 230, L = 48, B = 24, T = 8, R = 6;
        const svg = svgRoot(W, H, 'Plays by hour of day');
        const y = axis(svg, ticks(0, Math.max(1, ...rows.map((r) => r.events))), { W, H, L, B, T, R }, (v) => compact.format(v));
        const bw = (W - L - R) / 24;
        for (const r of rows) {
          const x = L + r.hour * bw + 2, top = y(r.events), mob = y(r.mobile_events);
          const g = s('g', { 'data-hour': r.hour }, svg);
          s('title', { text: `${String(r.hour).padStart(2, '0')}:00 · ${r.part_of_day}: ${fmtInt(r.events)} plays, ${fmtInt(r.mobile_events)} on mobile` }, g);
          s('rect', { x, y: top, width: bw - 4, height: Math.max(0, H - B - top), fill: COLORS[r.part_of_day], opacity: 0.35 }, g);
          s('rect', { x, y: mob, width: bw - 4, height: Math.max(0, H - B - mob), fill: COLORS[r.part_of_day] }, g);
          if (r.hour % 3 === 0) s('text', { x: x + (bw - 4) / 2, y: H - 8, 'text-anchor': 'middle', text: String(r.hour).padStart(2, '0') }, svg);
        }
        $('hours-chart').replaceChildren(svg);
        legend('hours-legend', PARTS);
      }

      function renderParts(rows) {
        const total = rows.reduce((a, r) => a + r.events, 0);
        const max = Math.max(1, ...rows.map((r) => r.events));
        $('parts-chart').replaceChildren(h('div', { class: 'bars' }, ...rows.map((r) => {
          const fill = h('div', { class: 'bar-fill' }); fill.style.width = (100 * r.events / max) + '%'; fill.style.background = COLORS[r.part_of_day];
          const share = total ? r.events / total : null;
          return h('div', { class: 'bar-row', 'data-part': r.part_of_day },
            h('span', {}, h('b', { text: r.part_of_day }), h('br'), h('small', { text: PART_HOURS[r.part_of_day] })),
            h('div', {}, h('div', { class: 'bar-track' }, fill),
              h('div', { class: 'bar-text', 'data-col': 'events', text: `${fmtInt(r.events)} plays · ${fmtPct(share)} · ${fmtPct(r.events ? r.mobile_events / r.events : null)} on mobile` })));
        })));
      }

      function byGroup(rows, key) {
        const groups = new Map();
        for (const r of rows) {
          if (!groups.has(r[key])) groups.set(r[key], []);
          groups.get(r[key]).push(r);
        }
        return groups;
      }

      function renderLevelParts(rows) {
        const groups = byGroup(rows, 'level');
        const names = [...groups.keys()];
        const W = 420, H = 220, L = 40, B = 24, T = 8, R = 4;
        const svg = svgRoot(W, H, 'Part of day by level');
        const shares = new Map(names.map((n) => {
          const rs = groups.get(n); const tot = rs.reduce((a, r) => a + r.events, 0);
          return [n, new Map(rs.map((r) => [r.part_of_day, tot ? r.events / tot : 0]))];
        }));
        const y = axis(svg, ticks(0, Math.max(0.01, ...[...shares.values()].flatMap((m) => [...m.values()]))), { W, H, L, B, T, R },
                       (v) => Math.round(100 * v) + '%');
        const gw = (W - L - R) / PARTS.length, bw = (gw - 14) / Math.max(1, names.length);
        PARTS.forEach((part, p) => {
          names.forEach((n, k) => {
            const v = shares.get(n).get(part) || 0, x = L + p * gw + 7 + k * bw;
            const r = s('rect', { x, y: y(v), width: Math.max(1, bw - 2), height: Math.max(0, H - B - y(v)), fill: COLORS[n] || '#999' }, svg);
            s('title', { text: `${n}, ${part}: ${fmtPct(v)} of its plays` }, r);
          });
          s('text', { x: L + p * gw + gw / 2, y: H - 8, 'text-anchor': 'middle', text: part }, svg);
        });
        $('level-parts-chart').replaceChildren(svg);
        legend('level-legend', names);
      }

      function renderLevelHours(rows) {
        const groups = byGroup(rows, 'level');
        const names = [...groups.keys()];
        const W = 720, H = 220, L = 48, B = 24, T = 8, R = 6;
        const svg = svgRoot(W, H, 'Hour of day by level');
        const series = names.map((n) => {
          const rs = groups.get(n); const tot = rs.reduce((a, r) => a + r.events, 0);
          return [n, rs.map((r) => (tot ? r.events / tot : 0))];
        });
        // Shares hover around 1/24: the axis spans the values, not from zero.
        const values = series.flatMap(([, v]) => v);
        const y = axis(svg, ticks(Math.min(...values, 1 / 24), Math.max(...values, 1 / 24)), { W, H, L, B, T, R },
                       (v) => one.format(100 * v) + '%');
        const x = (hr) => L + (W - L - R) * (hr + 0.5) / 24;
        for (let hr = 0; hr < 24; hr += 3) s('text', { x: x(hr), y: H - 8, 'text-anchor': 'middle', text: String(hr).padStart(2, '0') }, svg);
        for (const [n, v] of series) {
          const line = s('polyline', { points: v.map((p, hr) => `${x(hr)},${y(p)}`).join(' '), fill: 'none', stroke: COLORS[n] || '#999', 'stroke-width': 2.5 }, svg);
          s('title', { text: n }, line);
        }
        $('level-hours-chart').replaceChildren(svg);
        legend('level-hours-legend', names);
      }

      function groupLabel(key, g) {
        if (g === 'unknown') return 'Not in customer table';
        return (GROUP_NAMES[key] && GROUP_NAMES[key][g]) || g;
      }

      function renderBreakdown(key, rows) {
        const box = document.querySelector(`[data-breakdown="${key}"]`);
        const head = h('tr', {}, ...['Group', 'Customers', 'Active', 'Events', 'Avg plays', 'Avg unique tracks', 'Avg mobile', 'Morning', 'Afternoon', 'Evening', 'Night']
          .map((t, i) => h('th', { class: i ? 'num' : '', text: t })));
        const maxPlays = Math.max(1, ...rows.map((r) => r.avg_total_tracks || 0));
        const body = rows.map((r) => {
          const sw = h('span', { class: 'swatch' }); sw.style.background = COLORS[r[key]] || '#c5cad3';
          const bar = h('span', { class: 'fill' }); bar.style.width = (100 * (r.avg_total_tracks || 0) / maxPlays) + '%';
          return h('tr', { 'data-group': r[key] },
            h('td', {}, sw, groupLabel(key, r[key])),
            h('td', { class: 'num', 'data-col': 'customers', text: fmtInt(r.customers) }),
            h('td', { class: 'num', 'data-col': 'active_customers', text: fmtInt(r.active_customers) }),
            h('td', { class: 'num', 'data-col': 'events', text: fmtInt(r.events) }),
            h('td', { class: 'num barcell', 'data-col': 'avg_total_tracks' }, bar, h('span', { text: fmtAvg(r.avg_total_tracks) })),
            h('td', { class: 'num', 'data-col': 'avg_unique_tracks', text: fmtAvg(r.avg_unique_tracks) }),
            h('td', { class: 'num', 'data-col': 'avg_mobile_tracks', text: fmtAvg(r.avg_mobile_tracks) }),
            ...PARTS.map((p) => h('td', { class: 'num', 'data-col': 'avg_' + p, text: fmtAvg(r['avg_' + p]) })));
        });
        box.replaceChildren(h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, head), h('tbody', {}, ...body))));
      }

      function renderZips(rows) {
        const max = Math.max(1, ...rows.map((r) => r.events));
        $('zips').tBodies[0].replaceChildren(...rows.map((r, i) => {
          const bar = h('span', { class: 'fill' }); bar.style.width = (100 * r.events / max) + '%';
          return h('tr', { 'data-zip': r.zip },
            h('td', { text: String(i + 1) }), h('td', { text: r.zip }),
            h('td', { class: 'num barcell', 'data-col': 'events' }, bar, h('span', { text: fmtInt(r.events) })),
            h('td', { class: 'num', 'data-col': 'customers', text: fmtInt(r.customers) }),
            h('td', { class: 'num', 'data-col': 'mobile_share', text: fmtPct(r.mobile_share) }));
        }));
      }

      function renderStats(stats) {
        const names = { unique_tracks: 'Unique tracks', morning: 'Morning', afternoon: 'Afternoon', evening: 'Evening',
                        night: 'Night', mobile_tracks: 'Mobile plays', total_tracks: 'Total plays' };
        $('stats').tBodies[0].replaceChildren(...Object.entries(stats).map(([col, st]) => h('tr', { 'data-column': col },
          h('td', { text: names[col] || col }),
          h('td', { class: 'num', 'data-col': 'count', text: fmtInt(st.count) }),
          h('td', { class: 'num', 'data-col': 'mean', text: st.mean == null ? '–' : two.format(st.mean) }),
          h('td', { class: 'num', 'data-col': 'stddev', text: st.stddev == null ? '–' : two.format(st.stddev) }),
          h('td', { class: 'num', 'data-col': 'min', text: fmtInt(st.min) }),
          h('td', { class: 'num', 'data-col': 'max', text: fmtInt(st.max) }),
          h('td', { class: 'num', 'data-col': 'num_nonzeros', text: fmtInt(st.num_nonzeros) }),
          h('td', { class: 'num', 'data-col': 'norm_l1', text: fmtInt(st.norm_l1) }),
          h('td', { class: 'num', 'data-col': 'norm_l2', text: one.format(st.norm_l2) }))));
      }

      function renderCustomer(c) {
        const box = $('customer');
        const known = c.name != null;
        const facts = known ? [
          ['Name', c.name, 'name'], ['Level', c.level, 'level'], ['Campaign', c.campaign, 'campaign'],
          ['Gender', String(c.gender), 'gender'], ['Status', c.status === 1 ? 'active' : 'closed', 'status'],
          ['Home zip', c.zip, 'zip'], ['Signed up', c.sign_date, 'sign_date'], ['Linked with apps', c.linked_with_apps ? 'yes' : 'no', 'linked_with_apps'],
        ] : [['Name', 'not in the customer table', 'name']];
        const plays = [
          ['Plays', fmtInt(c.total_tracks), 'total_tracks'], ['Unique tracks', fmtInt(c.unique_tracks), 'unique_tracks'],
          ['Mobile plays', `${fmtInt(c.mobile_tracks)} (${fmtPct(c.total_tracks ? c.mobile_tracks / c.total_tracks : null)})`, 'mobile_tracks'],
          ...PARTS.map((p) => [p[0].toUpperCase() + p.slice(1), fmtInt(c[p]), p]),
        ];
        const dl = (items) => h('dl', {}, ...items.flatMap(([k, v, f]) => [h('dt', { text: k }), h('dd', { 'data-customer': f, text: v })]));
        box.replaceChildren(h('h3', { text: `Customer ${c.customer_id}` }), dl(facts), dl(plays));
        box.dataset.customerId = String(c.customer_id);
        box.hidden = false;
      }

      async function lookup(id) {
        try {
          renderCustomer(await api('customers/' + encodeURIComponent(id), {}));
          showError('customer-error', null);
        } catch (e) {
          $('customer').hidden = true;
          showError('customer-error', e);
        }
      }

      // ---- refresh -------------------------------------------------------
      function guard(promise, errorId) {
        return promise.then(() => showError(errorId, null), (e) => showError(errorId, e));
      }

      async function refreshAll() {
        const jobs = [
          guard(api('summary').then(renderSummary), 'summary-error'),
          guard(api('hours').then(renderHours), 'hours-error'),
          guard(api('hours', { per: 'part' }).then(renderParts), 'parts-error'),
          guard(api('hours', { by: 'level', per: 'part' }).then(renderLevelParts), 'level-parts-error'),
          guard(api('hours', { by: 'level' }).then(renderLevelHours), 'level-hours-error'),
          guard(Promise.all(['level', 'campaign', 'gender', 'status'].map((k) => api('breakdown', { by: k }).then((rows) => renderBreakdown(k, rows)))), 'breakdown-error'),
          guard(api('top-zips', { limit: 10 }).then(renderZips), 'zips-error'),
          guard(api('stats').then(renderStats), 'stats-error'),
        ];
        if (customerShown != null) jobs.push(lookup(customerShown));
        await Promise.all(jobs);
        document.body.dataset.refreshedAt = new Date().toISOString();
        if (!firstDone) {
          firstDone = true;
          // Since navigation start: loading the page, its script and every panel's answer.
          document.body.dataset.firstRenderMs = String(Math.round(performance.now()));
        }
        document.body.dataset.ready = 'true';
      }

      /// One refresh at a time; a commit during a refresh runs one more after it.
      function refresh() {
        if (refreshing) { again = true; return refreshing; }
        refreshing = refreshAll().finally(() => {
          refreshing = null;
          if (again) { again = false; refresh(); }
        });
        return refreshing;
      }

      // ---- controls ------------------------------------------------------
      function addDay(iso) {
        const d = new Date(iso + 'T00:00:00Z');
        d.setUTCDate(d.getUTCDate() + 1);
        return d.toISOString().slice(0, 10);
      }
      function setRange(from, toInclusive) {
        $('from').value = from || '';
        $('to').value = toInclusive || '';
        range = { from: from || '', to: toInclusive ? addDay(toInclusive) : '' };
        for (const b of document.querySelectorAll('#months button')) {
          b.setAttribute('aria-pressed', String(b.dataset.from === range.from && b.dataset.to === $('to').value));
        }
        refresh();
      }
      function monthChips(first, last) {
        if (!first || !last) return;
        const chips = [];
        let y = +first.slice(0, 4), m = +first.slice(5, 7);
        const ly = +last.slice(0, 4), lm = +last.slice(5, 7);
        while ((y < ly || (y === ly && m <= lm)) && chips.length < 24) {
          const start = `${y}-${String(m).padStart(2, '0')}-01`;
          const end = new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
          const label = new Date(Date.UTC(y, m - 1, 1)).toLocaleString('en-US', { month: 'short', year: 'numeric', timeZone: 'UTC' });
          const b = h('button', { type: 'button', 'data-from': start, 'data-to': end, 'aria-pressed': 'false', text: label });
          b.addEventListener('click', () => setRange(start, end));
          chips.push(b);
          m += 1; if (m > 12) { m = 1; y += 1; }
        }
        $('months').replaceChildren(...chips);
      }

      $('range').addEventListener('submit', (ev) => {
        ev.preventDefault();
        if ($('from').value && $('to').value && $('to').value < $('from').value) {
          showError('summary-error', new Error('"To" is before "From"'));
          return;
        }
        setRange($('from').value, $('to').value);
      });
      $('all').addEventListener('click', () => setRange('', ''));
      $('lookup').addEventListener('submit', (ev) => {
        ev.preventDefault();
        const id = $('customer-id').value.trim();
        if (!/^[0-9]+$/.test(id)) { showError('customer-error', new Error('A customer id is a whole number')); return; }
        customerShown = id;
        lookup(id);
      });
      for (const tab of document.querySelectorAll('#breakdown-tabs button')) {
        tab.addEventListener('click', () => {
          breakdownKey = tab.dataset.key;
          for (const t of document.querySelectorAll('#breakdown-tabs button')) t.setAttribute('aria-selected', String(t === tab));
          for (const b of document.querySelectorAll('[data-breakdown]')) b.hidden = b.dataset.breakdown !== breakdownKey;
        });
      }

      // ---- live updates --------------------------------------------------
      function setLive(state, text) {
        $('live').dataset.state = state;
        $('live-text').textContent = text;
      }
      function connect() {
        if (!window.EventSource) { setLive('down', 'no live updates in this browser'); return; }
        const es = new EventSource('/api/events');
        let generation = null;
        const onEvent = (ev) => {
          const info = JSON.parse(ev.data);
          const changed = generation !== null && info.generation !== generation;
          generation = info.generation;
          document.body.dataset.liveGeneration = String(info.generation);
          setLive('live', `Live · commit ${info.generation}, ${localTime(info.committed_at)} · ${fmtInt(info.store_events)} events`);
          if (changed) refresh();
        };
        es.addEventListener('snapshot', onEvent);
        es.addEventListener('commit', onEvent);
        es.onerror = () => setLive('down', 'reconnecting…');
      }

      // ---- start ---------------------------------------------------------
      api('summary').then((sum) => monthChips(sum.first_event, sum.last_event)).catch(() => {});
      refresh();
      connect();
    })();

    """#
}

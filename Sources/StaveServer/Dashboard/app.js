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

  // The view: the API's bounds (from included, to not, as in the CLI),
  // the attribute filters, the customer looked up and the breakdown tab.
  // It lives in the URL, so a view can be bookmarked, shared and reloaded.
  const FILTERS = ['level', 'campaign', 'gender', 'status'];
  const VIEW_KEYS = ['from', 'to', ...FILTERS, 'customer', 'tab'];
  const view = { from: '', to: '', level: '', campaign: '', gender: '', status: '', customer: '', tab: 'level' };
  let refreshing = null, again = false, firstDone = false;
  let hasCustomerTable = true;
  /// The last data drawn into each chart, to draw it again at a new width.
  const drawn = {};

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
    return s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' });
  }
  /// A chart's width in CSS pixels: its container's, so that the SVG is
  /// drawn at 1:1 and its 11 px labels stay 11 px on every screen.
  function widthOf(id) {
    return Math.max(260, Math.floor($(id).clientWidth || 600));
  }
  /// The query string of an API call: `extra`, with the view's range and
  /// filters (`scope` 'all'), its range only ('range': a customer lookup),
  /// or neither ('none': the whole store, for the month chips).
  function query(extra, scope) {
    const p = new URLSearchParams();
    if (scope !== 'none' && view.from) p.set('from', view.from);
    if (scope !== 'none' && view.to) p.set('to', view.to);
    if (scope === 'all') for (const k of FILTERS) if (view[k]) p.set(k, view[k]);
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    const q = p.toString();
    return q ? '?' + q : '';
  }
  async function api(path, extra, scope = 'all') {
    const r = await fetch('/api/' + path + query(extra, scope), { cache: 'no-store' });
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
    field('plays', fmtInt(sum.plays));
    field('store_plays', `of ${fmtInt(sum.store_plays)} in the store`);
    field('active_customers', fmtInt(sum.active_customers));
    field('customers', sum.customers == null ? 'no customer table' : `of ${fmtInt(sum.customers)} customers`);
    field('mobile_share', fmtPct(sum.mobile_share));
    field('mobile_plays', `${fmtInt(sum.mobile_plays)} on mobile`);
    field('per_customer', sum.active_customers ? one.format(sum.plays / sum.active_customers) : '–');
    field('span', sum.first_play ? `${sum.first_play} → ${sum.last_play}` : 'no plays in range');
    field('parts', `${fmtInt(sum.parts)} part${sum.parts === 1 ? '' : 's'} · commit ${sum.generation}`);
    document.body.dataset.generation = String(sum.generation);
    return sum;
  }

  function renderHours(rows) {
    drawn.hours = rows;
    const W = widthOf('hours-chart'), H = 230, L = 44, B = 24, T = 8, R = 6;
    const svg = svgRoot(W, H, 'Plays by hour of day');
    const y = axis(svg, ticks(0, Math.max(1, ...rows.map((r) => r.plays))), { W, H, L, B, T, R }, (v) => compact.format(v));
    const bw = (W - L - R) / 24;
    for (const r of rows) {
      const x = L + r.hour * bw + 2, top = y(r.plays), mob = y(r.mobile_plays);
      const g = s('g', { 'data-hour': r.hour }, svg);
      s('title', { text: `${String(r.hour).padStart(2, '0')}:00 · ${r.part_of_day}: ${fmtInt(r.plays)} plays, ${fmtInt(r.mobile_plays)} on mobile` }, g);
      s('rect', { x, y: top, width: bw - 4, height: Math.max(0, H - B - top), fill: COLORS[r.part_of_day], opacity: 0.35 }, g);
      s('rect', { x, y: mob, width: bw - 4, height: Math.max(0, H - B - mob), fill: COLORS[r.part_of_day] }, g);
      if (r.hour % (W < 500 ? 4 : 3) === 0) s('text', { x: x + (bw - 4) / 2, y: H - 8, 'text-anchor': 'middle', text: String(r.hour).padStart(2, '0') }, svg);
    }
    $('hours-chart').replaceChildren(svg);
    legend('hours-legend', PARTS);
  }

  function renderParts(rows) {
    const total = rows.reduce((a, r) => a + r.plays, 0);
    const max = Math.max(1, ...rows.map((r) => r.plays));
    $('parts-chart').replaceChildren(h('div', { class: 'bars' }, ...rows.map((r) => {
      const fill = h('div', { class: 'bar-fill' }); fill.style.width = (100 * r.plays / max) + '%'; fill.style.background = COLORS[r.part_of_day];
      const share = total ? r.plays / total : null;
      return h('div', { class: 'bar-row', 'data-part': r.part_of_day },
        h('span', {}, h('b', { text: r.part_of_day }), h('br'), h('small', { text: PART_HOURS[r.part_of_day] })),
        h('div', {}, h('div', { class: 'bar-track' }, fill),
          h('div', { class: 'bar-text', 'data-col': 'plays', text: `${fmtInt(r.plays)} plays · ${fmtPct(share)} · ${fmtPct(r.plays ? r.mobile_plays / r.plays : null)} on mobile` })));
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
    drawn.levelParts = rows;
    const groups = byGroup(rows, 'level');
    const names = [...groups.keys()];
    const W = widthOf('level-parts-chart'), H = 220, L = 40, B = 24, T = 8, R = 4;
    const svg = svgRoot(W, H, 'Part of day by level');
    const shares = new Map(names.map((n) => {
      const rs = groups.get(n); const tot = rs.reduce((a, r) => a + r.plays, 0);
      return [n, new Map(rs.map((r) => [r.part_of_day, tot ? r.plays / tot : 0]))];
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
    drawn.levelHours = rows;
    const groups = byGroup(rows, 'level');
    const names = [...groups.keys()];
    const W = widthOf('level-hours-chart'), H = 220, L = 48, B = 24, T = 8, R = 6;
    const svg = svgRoot(W, H, 'Hour of day by level');
    const series = names.map((n) => {
      const rs = groups.get(n); const tot = rs.reduce((a, r) => a + r.plays, 0);
      return [n, rs.map((r) => (tot ? r.plays / tot : 0))];
    });
    // Shares hover around 1/24: the axis spans the values, not from zero.
    const values = series.flatMap(([, v]) => v);
    const y = axis(svg, ticks(Math.min(...values, 1 / 24), Math.max(...values, 1 / 24)), { W, H, L, B, T, R },
                   (v) => one.format(100 * v) + '%');
    const x = (hr) => L + (W - L - R) * (hr + 0.5) / 24;
    for (let hr = 0; hr < 24; hr += (W < 500 ? 4 : 3)) s('text', { x: x(hr), y: H - 8, 'text-anchor': 'middle', text: String(hr).padStart(2, '0') }, svg);
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
    const head = h('tr', {}, ...['Group', 'Customers', 'Active', 'Plays', 'Avg plays', 'Avg unique tracks', 'Avg mobile', 'Morning', 'Afternoon', 'Evening', 'Night']
      .map((t, i) => h('th', { class: i ? 'num' : '', text: t })));
    const maxPlays = Math.max(1, ...rows.map((r) => r.avg_plays || 0));
    const body = rows.map((r) => {
      const sw = h('span', { class: 'swatch' }); sw.style.background = COLORS[r[key]] || '#c5cad3';
      const bar = h('span', { class: 'fill' }); bar.style.width = (100 * (r.avg_plays || 0) / maxPlays) + '%';
      return h('tr', { 'data-group': r[key] },
        h('td', {}, sw, groupLabel(key, r[key])),
        h('td', { class: 'num', 'data-col': 'customers', text: fmtInt(r.customers) }),
        h('td', { class: 'num', 'data-col': 'active_customers', text: fmtInt(r.active_customers) }),
        h('td', { class: 'num', 'data-col': 'plays', text: fmtInt(r.plays) }),
        h('td', { class: 'num barcell', 'data-col': 'avg_plays' }, bar, h('span', { text: fmtAvg(r.avg_plays) })),
        h('td', { class: 'num', 'data-col': 'avg_unique_tracks', text: fmtAvg(r.avg_unique_tracks) }),
        h('td', { class: 'num', 'data-col': 'avg_mobile_plays', text: fmtAvg(r.avg_mobile_plays) }),
        ...PARTS.map((p) => h('td', { class: 'num', 'data-col': 'avg_' + p, text: fmtAvg(r['avg_' + p]) })));
    });
    box.replaceChildren(h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, head), h('tbody', {}, ...body))));
  }

  function renderZips(rows) {
    const max = Math.max(1, ...rows.map((r) => r.plays));
    $('zips').tBodies[0].replaceChildren(...rows.map((r, i) => {
      const bar = h('span', { class: 'fill' }); bar.style.width = (100 * r.plays / max) + '%';
      return h('tr', { 'data-zip': r.zip },
        h('td', { text: String(i + 1) }), h('td', { text: r.zip }),
        h('td', { class: 'num barcell', 'data-col': 'plays' }, bar, h('span', { text: fmtInt(r.plays) })),
        h('td', { class: 'num', 'data-col': 'customers', text: fmtInt(r.customers) }),
        h('td', { class: 'num', 'data-col': 'mobile_share', text: fmtPct(r.mobile_share) }));
    }));
  }

  function renderStats(stats) {
    const names = { unique_tracks: 'Unique tracks', morning: 'Morning', afternoon: 'Afternoon', evening: 'Evening',
                    night: 'Night', mobile_plays: 'Mobile plays', plays: 'Plays' };
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
      ['Plays', fmtInt(c.plays), 'plays'], ['Unique tracks', fmtInt(c.unique_tracks), 'unique_tracks'],
      ['Mobile plays', `${fmtInt(c.mobile_plays)} (${fmtPct(c.plays ? c.mobile_plays / c.plays : null)})`, 'mobile_plays'],
      ...PARTS.map((p) => [p[0].toUpperCase() + p.slice(1), fmtInt(c[p]), p]),
    ];
    const dl = (items) => h('dl', {}, ...items.flatMap(([k, v, f]) => [h('dt', { text: k }), h('dd', { 'data-customer': f, text: v })]));
    box.replaceChildren(h('h3', { text: `Customer ${c.customer_id}` }), dl(facts), dl(plays));
    box.dataset.customerId = String(c.customer_id);
    box.hidden = false;
  }

  async function lookup(id) {
    try {
      renderCustomer(await api('customers/' + encodeURIComponent(id), {}, 'range'));
      showError('customer-error', null);
    } catch (e) {
      $('customer').hidden = true;
      showError('customer-error', e);
    }
  }

  // ---- refresh -------------------------------------------------------
  /// What each panel draws into, emptied when its answer fails (an error
  /// never stands next to the previous answer's numbers).
  const PANEL_TARGETS = {
    'summary-error': () => { for (const e of document.querySelectorAll('.kpi [data-field]')) e.textContent = '–'; },
    'hours-error': () => { $('hours-chart').replaceChildren(); delete drawn.hours; },
    'parts-error': () => $('parts-chart').replaceChildren(),
    'level-parts-error': () => { $('level-parts-chart').replaceChildren(); delete drawn.levelParts; },
    'level-hours-error': () => { $('level-hours-chart').replaceChildren(); delete drawn.levelHours; },
    'breakdown-error': () => { for (const b of document.querySelectorAll('[data-breakdown]')) b.replaceChildren(); },
    'zips-error': () => $('zips').tBodies[0].replaceChildren(),
    'stats-error': () => $('stats').tBodies[0].replaceChildren(),
  };
  function guard(promise, errorId) {
    return promise.then(() => showError(errorId, null), (e) => { PANEL_TARGETS[errorId](); showError(errorId, e); });
  }
  /// Every panel empty with `message` in each: the view cannot be shown.
  function clearAll(message) {
    for (const [id, clear] of Object.entries(PANEL_TARGETS)) { clear(); showError(id, new Error(message)); }
    $('customer').hidden = true;
  }

  async function refreshAll() {
    if (view.from && view.to && view.to <= view.from) {
      const message = `The range is empty: To (${view.to}) is not after From (${view.from}).`;
      pageError(message);
      clearAll('nothing to show for an empty range');
      document.body.dataset.state = 'invalid-range';
      document.body.dataset.ready = 'true';
      return;
    }
    if (document.body.dataset.state === 'invalid-range') { pageError(null); document.body.dataset.state = ''; }
    // Whether the store (which may have been replaced) has a customer
    // table: the level and breakdown panels and the filters need one.
    try {
      const whole = await api('summary', {}, 'none');
      hasCustomerTable = whole.customers != null;
      $('filters').hidden = !hasCustomerTable;
      monthChips(whole.first_play, whole.last_play);
    } catch (e) { /* the summary panel below shows the error */ }
    const withoutTable = () => Promise.reject(new Error('needs a customer table (stave convert --customers cust.csv -o STORE)'));
    const jobs = [
      guard(api('summary').then(renderSummary), 'summary-error'),
      guard(api('hours').then(renderHours), 'hours-error'),
      guard(api('hours', { per: 'part' }).then(renderParts), 'parts-error'),
      guard(hasCustomerTable ? api('hours', { by: 'level', per: 'part' }).then(renderLevelParts) : withoutTable(), 'level-parts-error'),
      guard(hasCustomerTable ? api('hours', { by: 'level' }).then(renderLevelHours) : withoutTable(), 'level-hours-error'),
      guard(hasCustomerTable ? Promise.all(['level', 'campaign', 'gender', 'status'].map((k) => api('breakdown', { by: k }).then((rows) => renderBreakdown(k, rows))))
                             : withoutTable(), 'breakdown-error'),
      guard(api('top-zips', { limit: 10 }).then(renderZips), 'zips-error'),
      guard(api('stats').then(renderStats), 'stats-error'),
    ];
    if (view.customer) jobs.push(lookup(view.customer));
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

  // ---- controls and the URL ----------------------------------------------
  function pageError(message) {
    const e = $('page-error');
    e.textContent = message || '';
    e.hidden = !message;
  }
  function addDay(iso) {
    const d = new Date(iso + 'T00:00:00Z');
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }
  /// The view from the URL (unknown keys, such as an access token, stay).
  function readURL() {
    const p = new URLSearchParams(location.search);
    for (const k of VIEW_KEYS) view[k] = p.get(k) || (k === 'tab' ? 'level' : '');
  }
  function writeURL(push) {
    const p = new URLSearchParams(location.search);
    for (const k of VIEW_KEYS) {
      if (view[k] && !(k === 'tab' && view[k] === 'level')) p.set(k, view[k]); else p.delete(k);
    }
    const q = p.toString();
    const url = location.pathname + (q ? '?' + q : '');
    if (url !== location.pathname + location.search) history[push ? 'pushState' : 'replaceState'](null, '', url);
  }
  /// The controls as the view says.
  function showView() {
    $('from').value = view.from.slice(0, 10);
    $('to').value = view.to.slice(0, 10);
    for (const k of FILTERS) {
      const sel = $('f-' + k);
      if (view[k] && ![...sel.options].some((o) => o.value === view[k])) sel.append(h('option', { value: view[k], text: view[k] }));
      sel.value = view[k];
      sel.classList.toggle('active', !!view[k]);
    }
    for (const b of document.querySelectorAll('#months button')) {
      b.setAttribute('aria-pressed', String(b.dataset.from === view.from && b.dataset.to === view.to));
    }
    for (const t of document.querySelectorAll('#breakdown-tabs button')) t.setAttribute('aria-selected', String(t.dataset.key === view.tab));
    for (const b of document.querySelectorAll('[data-breakdown]')) b.hidden = b.dataset.breakdown !== view.tab;
    if ($('customer-id').value !== view.customer) $('customer-id').value = view.customer;
    if (!view.customer) $('customer').hidden = true;
  }
  /// Changes the view, records it in the URL (a new history entry) and
  /// redraws what depends on it.
  function setView(changes, redraw = true) {
    Object.assign(view, changes);
    writeURL(true);
    showView();
    if (redraw) refresh();
  }
  function monthChips(first, last) {
    if (!first || !last) return;
    const chips = [];
    let y = +first.slice(0, 4), m = +first.slice(5, 7);
    const ly = +last.slice(0, 4), lm = +last.slice(5, 7);
    while ((y < ly || (y === ly && m <= lm)) && chips.length < 24) {
      const start = `${y}-${String(m).padStart(2, '0')}-01`;
      const end = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);   // the next month's first day: not included
      const label = new Date(Date.UTC(y, m - 1, 1)).toLocaleString('en-US', { month: 'short', year: 'numeric', timeZone: 'UTC' });
      const b = h('button', { type: 'button', 'data-from': start, 'data-to': end, 'aria-pressed': 'false', text: label });
      b.addEventListener('click', () => setView({ from: start, to: end }));
      chips.push(b);
      m += 1; if (m > 12) { m = 1; y += 1; }
    }
    $('months').replaceChildren(...chips);
    showView();
  }

  $('range').addEventListener('submit', (ev) => {
    ev.preventDefault();
    setView({ from: $('from').value, to: $('to').value });
  });
  $('all').addEventListener('click', () => setView({ from: '', to: '' }));
  for (const k of FILTERS) $('f-' + k).addEventListener('change', () => setView({ [k]: $('f-' + k).value }));
  $('clear-filters').addEventListener('click', () => setView(Object.fromEntries(FILTERS.map((k) => [k, '']))));
  $('lookup').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('customer-id').value.trim();
    if (!/^[0-9]+$/.test(id)) { showError('customer-error', new Error('A customer id is a whole number')); return; }
    setView({ customer: id }, false);
    lookup(id);
  });
  for (const tab of document.querySelectorAll('#breakdown-tabs button')) {
    tab.addEventListener('click', () => setView({ tab: tab.dataset.key }, false));
  }
  window.addEventListener('popstate', () => { readURL(); showView(); refresh(); });
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (drawn.hours) renderHours(drawn.hours);
      if (drawn.levelParts) renderLevelParts(drawn.levelParts);
      if (drawn.levelHours) renderLevelHours(drawn.levelHours);
    }, 120);
  });

  // ---- live updates --------------------------------------------------
  function setLive(state, text) {
    $('live').dataset.state = state;
    $('live-text').textContent = text;
  }
  function connect() {
    if (!window.EventSource) { setLive('down', 'no live updates in this browser'); return; }
    const es = new EventSource('/api/events');
    let serial = null;
    const onEvent = (ev) => {
      const info = JSON.parse(ev.data);
      const changed = serial !== null && info.serial !== serial;
      serial = info.serial;
      document.body.dataset.liveGeneration = String(info.generation);
      if (document.body.dataset.state === 'gone') {
        document.body.dataset.state = '';
        pageError(null);
        $('main').classList.remove('stale');
      }
      setLive('live', `Live · commit ${info.generation}, ${localTime(info.committed_at)} · ${fmtInt(info.store_plays)} plays`);
      if (changed) refresh();
    };
    es.addEventListener('snapshot', onEvent);
    es.addEventListener('commit', onEvent);
    // The store was deleted or is being replaced: never "Live" over what
    // was shown; the numbers stay greyed until a store is back.
    es.addEventListener('gone', (ev) => {
      const info = JSON.parse(ev.data);
      serial = -1;
      document.body.dataset.state = 'gone';
      setLive('down', 'Store gone');
      pageError(info.error + ' The numbers below are from before; they update when a store is back.');
      $('main').classList.add('stale');
    });
    es.onerror = () => setLive('down', 'reconnecting…');
  }

  // ---- start ---------------------------------------------------------
  readURL();
  showView();
  refresh();
  connect();
})();

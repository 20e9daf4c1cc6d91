/*
 * Tributary console: reads the JSON API every 5 s and renders it. Every
 * value from the API goes into the page as text (textContent, attribute
 * values), never as HTML, so names chosen by clients cannot inject markup.
 */
'use strict';

const REFRESH_MS = 5000;
const HOUR_MS = 3600 * 1000;
const SVG = 'http://www.w3.org/2000/svg';

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function bytes(n) {
  if (n === null || n === undefined) return '\u2013';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

function num(n) {
  return n === null || n === undefined ? '\u2013' : Number(n).toLocaleString('en');
}

function ago(ms, now) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return s + ' s ago';
  if (s < 5400) return Math.round(s / 60) + ' min ago';
  return Math.round(s / 3600) + ' h ago';
}

async function get(path) {
  try {
    const r = await fetch(path, { cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) return { status: r.status, data: null };
    return { status: r.status, data: await r.json() };
  } catch (e) {
    return { status: 0, data: null };
  }
}

function tile(label, value, cls) {
  return el('div', { class: 'tile' }, el('div', { class: 'label' }, label),
            el('div', { class: 'value ' + (cls || '') }, value));
}

function renderHealth(c, agents) {
  const h = document.getElementById('health');
  clear(h);
  if (!c) { h.append(tile('Status', 'unreachable', 'bad')); return; }
  const controller = c.brokers.find((b) => b.controller);
  h.append(
    tile('Status', c.ready ? 'ready' : 'starting', c.ready ? 'ok' : 'warn'),
    tile('Version', c.version),
    tile('Brokers', num(c.brokers.length)),
    tile('Controller', controller ? String(controller.id) : 'none', controller ? '' : 'bad'),
    tile('Topics', num(c.topics)),
    tile('Partitions', num(c.partitions)),
    tile('Under-replicated', num(c.under_replicated_partitions),
         c.under_replicated_partitions > 0 ? 'bad' : 'ok'),
    tile('Offline', num(c.offline_partitions), c.offline_partitions > 0 ? 'bad' : 'ok'),
    tile('Storage', bytes(c.size_bytes)),
    tile('Groups', num(c.groups)));
  if (agents) {
    const silent = agents.agents.filter((a) => a.silent).length;
    const behind = agents.agents.filter((a) => !a.silent && a.bytes_behind > 0).length;
    h.append(tile('Agents', num(agents.agents.length)),
             tile('Silent agents', num(silent), silent > 0 ? 'bad' : 'ok'),
             tile('Agents behind', num(behind), behind > 0 ? 'warn' : 'ok'));
  }
}

function renderBrokers(c) {
  const tb = document.querySelector('#brokers tbody');
  clear(tb);
  if (!c) return;
  for (const b of c.brokers.slice().sort((x, y) => x.id - y.id)) {
    const role = [b.controller ? 'controller' : null, b.self ? 'this collector' : null]
      .filter(Boolean).join(', ');
    tb.append(el('tr', {}, el('td', { class: 'num' }, b.id), el('td', {}, b.host),
                 el('td', { class: 'num' }, b.port), el('td', {}, b.rack || '\u2013'),
                 el('td', {}, role || '\u2013')));
  }
}

function renderTopics(t) {
  const tb = document.querySelector('#topics tbody');
  const showInternal = document.getElementById('show-internal').checked;
  clear(tb);
  if (!t) return;
  const under = (topic) => topic.partitions.filter((p) => p.under_replicated || p.leader < 0).length;
  const topics = t.topics.filter((x) => showInternal || !x.internal)
    .sort((a, b) => under(b) - under(a) || a.name.localeCompare(b.name));
  for (const topic of topics) {
    topic.partitions.forEach((p, i) => {
      const bad = p.leader < 0 || p.under_replicated;
      tb.append(el('tr', { class: 'topic-row', 'data-topic': topic.name },
        el('td', {}, i === 0 ? topic.name : ''),
        el('td', { class: 'num' }, p.partition),
        el('td', { class: 'num ' + (p.leader < 0 ? 'bad' : '') }, p.leader < 0 ? 'none' : p.leader),
        el('td', {}, p.replicas.join(',')),
        el('td', { class: bad ? 'bad' : '' }, p.isr.join(',')),
        el('td', { class: 'num' }, num(p.log_start_offset)),
        el('td', { class: 'num' }, num(p.log_end_offset)),
        el('td', { class: 'num' }, bytes(p.size_bytes))));
    });
  }
}

/* A polyline of the group's total lag over the last hour. */
function chart(history, now) {
  const w = 240, h = 64, pad = 4;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  const pts = history.filter((s) => s[0] >= now - HOUR_MS);
  const max = Math.max(1, ...pts.map((s) => s[1]));
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', pts.map((s) => {
    const x = pad + (w - 2 * pad) * (1 - (now - s[0]) / HOUR_MS);
    const y = h - pad - (h - 2 * pad) * (s[1] / max);
    return x.toFixed(1) + ',' + y.toFixed(1);
  }).join(' '));
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('x', String(pad));
  label.setAttribute('y', '10');
  label.textContent = 'lag, last hour (max ' + num(max) + ')';
  const title = document.createElementNS(SVG, 'title');
  title.textContent = 'total lag over the last hour';
  svg.append(title, line, label);
  /* the newest sample as a dot, so a chart of one sample shows too */
  if (pts.length > 0) {
    const [x, y] = line.getAttribute('points').split(' ').pop().split(',');
    const dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', x);
    dot.setAttribute('cy', y);
    dot.setAttribute('r', '2.5');
    svg.append(dot);
  }
  return svg;
}

function renderGroups(g) {
  const box = document.getElementById('groups');
  clear(box);
  document.getElementById('groups-empty').hidden = !!(g && g.groups.length);
  if (!g) return;
  for (const grp of g.groups.slice().sort((a, b) => b.lag - a.lag)) {
    const rows = el('tbody');
    for (const p of grp.partitions) {
      rows.append(el('tr', {}, el('td', {}, p.topic), el('td', { class: 'num' }, p.partition),
        el('td', { class: 'num' }, num(p.committed_offset)),
        el('td', { class: 'num' }, num(p.high_watermark)),
        el('td', { class: 'num lag ' + (p.lag > 0 ? 'warn' : '') }, num(p.lag))));
    }
    const clients = [...new Set(grp.members.map((m) => m.client_id))].join(', ');
    box.append(el('div', { class: 'group', 'data-group': grp.group_id },
      el('div', { class: 'group-head' },
        el('span', { class: 'name' }, grp.group_id),
        el('span', { class: 'muted' }, grp.state),
        el('span', {}, 'members: ' + grp.members.length),
        clients ? el('span', { class: 'muted clients' }, 'clients: ' + clients) : null,
        el('span', { class: 'total-lag ' + (grp.lag > 0 ? 'warn' : 'ok') }, 'lag ' + num(grp.lag))),
      el('div', { class: 'group-body' },
        el('div', { class: 'scroll' }, el('table', {},
          el('thead', {}, el('tr', {}, el('th', {}, 'Topic'), el('th', { class: 'num' }, 'Partition'),
            el('th', { class: 'num' }, 'Committed'), el('th', { class: 'num' }, 'End'),
            el('th', { class: 'num' }, 'Lag'))), rows)),
        chart(grp.lag_history, g.now_ms))));
  }
}

function renderAgents(a) {
  const tb = document.querySelector('#agents tbody');
  clear(tb);
  const agents = a && Array.isArray(a.agents) ? a.agents : [];
  document.getElementById('agents-empty').hidden = agents.length > 0;
  document.getElementById('agents').hidden = agents.length === 0;
  const rank = (x) => (x.silent ? 2 : x.bytes_behind > 0 ? 1 : 0);
  for (const ag of agents.slice().sort((x, y) => rank(y) - rank(x) || y.bytes_behind - x.bytes_behind)) {
    const status = ag.silent ? 'silent' : ag.bytes_behind > 0 ? 'behind' : 'ok';
    tb.append(el('tr', { class: 'agent-row', 'data-host': ag.host },
      el('td', {}, ag.host), el('td', {}, ag.version),
      el('td', { class: ag.silent ? 'bad' : ag.bytes_behind > 0 ? 'warn' : 'ok' }, status),
      el('td', { class: 'num' }, bytes(ag.bytes_behind)),
      el('td', {}, ago(ag.last_seen_ms, a.now_ms)),
      el('td', {}, ag.last_error ? ag.last_error + ' (' + ago(ag.last_error_ms, a.now_ms) + ')' : '\u2013')));
    for (const f of (ag.files || []).filter((x) => x.bytes_behind > 0)) {
      tb.append(el('tr', { class: 'muted' }, el('td', {}, '\u21b3 ' + f.path), el('td', {}, f.input),
        el('td', {}, 'behind'), el('td', { class: 'num' }, bytes(f.bytes_behind)),
        el('td', {}, 'acked ' + ago(f.last_ack_ms, a.now_ms)), el('td', {}, '')));
    }
  }
}

function renderErrors(e, status) {
  const ol = document.getElementById('errors');
  const empty = document.getElementById('errors-empty');
  clear(ol);
  if (status === 403) { empty.textContent = 'not authorized to read the log'; empty.hidden = false; return; }
  empty.textContent = 'no warnings or errors';
  empty.hidden = !!(e && e.errors.length);
  if (!e) return;
  for (const line of e.errors) {
    ol.append(el('li', {}, el('span', { class: 'lvl ' + (line.level === 'ERROR' ? 'bad' : 'warn') }, line.level),
      el('span', { class: 'muted' }, new Date(line.time_ms).toISOString() + ' '), line.message));
  }
}

async function refresh() {
  const [c, t, g, a, e] = await Promise.all(
    ['/api/cluster', '/api/topics', '/api/groups', '/api/agents', '/api/errors'].map(get));
  renderHealth(c.data, a.data);
  renderBrokers(c.data);
  renderTopics(t.data);
  renderGroups(g.data);
  renderAgents(a.data);
  renderErrors(e.data, e.status);
  document.getElementById('updated').textContent =
    c.data ? 'updated ' + new Date().toLocaleTimeString() : 'collector unreachable';
  /* the page's width against the window's, for checks (wide tables scroll inside) */
  document.body.setAttribute('data-page-width', String(document.documentElement.scrollWidth));
  document.body.setAttribute('data-window-width', String(window.innerWidth));
  document.body.setAttribute('data-loaded', '1');
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('show-internal').addEventListener('change', refresh);
  refresh();
  setInterval(refresh, REFRESH_MS);
});

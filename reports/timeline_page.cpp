// The timeline page around its data: fixed CSS and script, the run's JSON in a
// <script type="application/json"> element. Everything is inline so the page works from a file://
// URL with no network. The script draws into one <svg> and redraws on zoom, pan and filter changes.
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reports/report.hpp"
#include "reports/timeline.hpp"

namespace syncstorm {

namespace {

constexpr std::string_view kStyle = R"css(
body{font:14px system-ui,sans-serif;margin:0;color:#222;background:#fff}
header{padding:8px 14px;border-bottom:1px solid #ddd}
header h1{font-size:17px;margin:0 0 4px}
header code{font-size:12px;background:#f4f4f4;padding:1px 4px}
.notice{background:#fff3cd;border:1px solid #e0c060;padding:6px 10px;margin:6px 0}
#wrap{display:flex;align-items:flex-start}
#main{flex:1;min-width:0;padding:6px 10px}
#side{width:380px;flex:none;padding:6px 10px;border-left:1px solid #ddd;max-height:100vh;overflow:auto}
#controls{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;margin-bottom:6px}
#controls fieldset{border:1px solid #ddd;padding:2px 6px;margin:0}
#controls label{white-space:nowrap;margin-right:6px}
#plot{width:100%;display:block;cursor:grab;user-select:none;border:1px solid #eee}
#plot text{font-size:11px}
.lane-label{font-size:12px}
.msg .vis{stroke:#0072b2;stroke-opacity:.6}
.msg.dropped .vis{stroke:#d55e00}
.msg.inflight .vis{stroke-dasharray:4 3}
.msg .hit{stroke:transparent;stroke-width:8}
.msg:hover .vis,.msg.selected .vis{stroke:#e69f00;stroke-width:3;stroke-opacity:1}
.mark{cursor:pointer}
.mark.dim{opacity:.15}
.violation-marker{fill:#d00;stroke:#000}
#violations li{margin-bottom:8px}
#violations pre,#details pre{white-space:pre-wrap;font-size:11px;background:#f7f7f7;padding:4px;max-height:260px;overflow:auto}
#details table td{padding:1px 6px 1px 0;vertical-align:top}
.legend span{display:inline-block;margin-right:10px}
.sw{display:inline-block;width:10px;height:10px;margin-right:3px;vertical-align:middle}
)css";

constexpr std::string_view kScript = R"js(
(function () {
'use strict';
const D = JSON.parse(document.getElementById('timeline-data').textContent);
const svg = document.getElementById('plot');
const LANE = 30, LEFT = 96, RIGHT = 14, TOP = 26, BOTTOM = 26;
const KINDS = ['message', 'dropped', 'operation', 'applied', 'acknowledged', 'rejected', 'intent_lost', 'connection', 'crash', 'fault'];
const FAULT_FILL = {partition: '#e69f00', offline: '#999999', down: '#d55e00', crashed: '#000000'};
const laneName = new Map(D.lanes.map(l => [l.node, l.name]));
const messages = new Map(D.messages.map(m => [m.id, m]));
const violationOps = new Map();
D.violations.forEach((v, i) => v.ops.forEach(o => violationOps.set(o.op, i)));
const st = {v0: 0, v1: D.end_us, nodes: new Set(D.lanes.map(l => l.node)), kinds: new Set(KINDS), ops: null, selected: null, focusOp: null};

function esc(s) { return String(s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c])); }
function secs(us) { return (us / 1e6).toFixed(6) + ' s'; }
function markKind(k) {
  if (k === 'reset' || k === 'connected' || k === 'connect_failed' || k === 'connect_attempt') return 'connection';
  if (k === 'crash' || k === 'restart') return 'crash';
  return k;
}
function plotWidth() { return Math.max(200, (svg.clientWidth || 1200) - LEFT - RIGHT); }
function xOf(t) { return LEFT + (t - st.v0) / (st.v1 - st.v0) * plotWidth(); }
function shownLanes() { return D.lanes.filter(l => st.nodes.has(l.node)); }

function axis(height) {
  const span = (st.v1 - st.v0) / 1e6, raw = span / 10, p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(f => f * p).find(s => s >= raw) * 1e6;
  let out = '';
  for (let t = Math.ceil(st.v0 / step) * step; t <= st.v1; t += step) {
    const x = xOf(t).toFixed(1);
    out += `<path d="M${x} ${TOP - 6}V${height - BOTTOM}" stroke="#eee"/><text x="${x}" y="${TOP - 10}" text-anchor="middle">${+(t / 1e6).toFixed(6)}s</text>`;
  }
  return out;
}

function lanesSvg(yOf, width) {
  let out = '';
  shownLanes().forEach(l => {
    const y = yOf.get(l.node);
    out += `<g class="lane" data-node="${l.node}"><path d="M${LEFT} ${y}H${width - RIGHT}" stroke="${l.server ? '#777' : '#bbb'}"/>` +
           `<text class="lane-label" x="${LEFT - 6}" y="${y + 4}" text-anchor="end">${esc(l.name)}</text></g>`;
  });
  return out;
}

function faultsSvg(yOf) {
  if (!st.kinds.has('fault') && !st.kinds.has('crash')) return '';
  let out = '';
  D.faults.forEach(f => {
    const isCrash = f.kind === 'crashed';
    if (!yOf.has(f.node) || f.to < st.v0 || f.from > st.v1 || !st.kinds.has(isCrash ? 'crash' : 'fault')) return;
    const x1 = Math.max(LEFT, xOf(f.from)), x2 = Math.min(xOf(st.v1), xOf(f.to)), y = yOf.get(f.node);
    out += `<rect class="fault" x="${x1.toFixed(1)}" y="${y - LANE / 2 + 2}" width="${Math.max(2, x2 - x1).toFixed(1)}" height="${LANE - 4}"` +
           ` fill="${FAULT_FILL[f.kind] || '#56b4e9'}" opacity="0.3"><title>${esc(f.kind)} ${secs(f.from)} .. ${secs(f.to)}</title></rect>`;
  });
  return out;
}

function messagesSvg(yOf) {
  let out = '';
  const end = D.cut_at_us !== null ? D.cut_at_us : D.end_us;
  D.messages.forEach(m => {
    const kind = m.fate === 'dropped' ? 'dropped' : 'message';
    if (!st.kinds.has(kind) || !yOf.has(m.from) || !yOf.has(m.to)) return;
    const t2 = m.at === null ? end : m.at;
    if (m.sent > st.v1 || t2 < st.v0) return;
    const x1 = xOf(m.sent), y1 = yOf.get(m.from);
    let x2 = xOf(t2), y2 = yOf.get(m.to);
    if (m.fate === 'dropped') { x2 = Math.max(x2, x1 + 6); y2 = y1 + (y2 - y1) / 3; }
    const cls = 'msg' + (m.fate === 'dropped' ? ' dropped' : '') + (m.at === null ? ' inflight' : '') + (st.selected === m.id ? ' selected' : '');
    const d = `M${x1.toFixed(1)} ${y1.toFixed(1)}L${x2.toFixed(1)} ${y2.toFixed(1)}` + (m.fate === 'dropped' ? `M${(x2 - 4).toFixed(1)} ${(y2 - 4).toFixed(1)}l8 8m0 -8l-8 8` : '');
    out += `<g class="${cls}" id="msg-${m.id}" data-msg="${m.id}"><path class="hit" d="${d}"/><path class="vis" d="${d}" fill="none"` +
           (m.fate === 'delivered' ? ' marker-end="url(#arrow)"' : '') + '/></g>';
  });
  return out;
}

function markShape(m, x, y) {
  switch (m.kind) {
    case 'operation': return `<circle cx="${x}" cy="${y}" r="4.5" fill="#cc79a7" stroke="#000"/>`;
    case 'applied': return `<rect x="${x - 3}" y="${y - 3}" width="6" height="6" fill="#cc79a7"/>`;
    case 'acknowledged': return `<rect x="${x - 3}" y="${y - 3}" width="6" height="6" fill="#009e73"/>`;
    case 'rejected': return `<rect x="${x - 3}" y="${y - 3}" width="6" height="6" fill="#d55e00"/>`;
    case 'intent_lost': return `<path d="M${x - 4} ${y - 4}l8 8m0 -8l-8 8" stroke="#666" stroke-width="2"/>`;
    case 'crash': case 'restart': return `<path d="M${x - 5} ${y - 9}h10l-5 8z" fill="${m.kind === 'crash' ? '#000' : '#0a0'}"/>`;
    default: return `<path d="M${x} ${y - 8}v6" stroke="${m.kind === 'reset' || m.kind === 'connect_failed' ? '#d55e00' : '#56b4e9'}" stroke-width="2"/>`;
  }
}

function marksSvg(yOf) {
  let out = '';
  D.marks.forEach((m, i) => {
    if (!st.kinds.has(markKind(m.kind)) || !yOf.has(m.node) || m.t < st.v0 || m.t > st.v1) return;
    if (st.ops !== null && m.op !== undefined && !st.ops.has(m.op)) return;
    if (st.ops !== null && m.op === undefined) return;
    const dim = st.focusOp !== null && m.op !== st.focusOp ? ' dim' : '';
    const label = `${m.kind}${m.op !== undefined ? ' op ' + m.op : ''} at ${laneName.get(m.node)}, ${secs(m.t)}`;
    out += `<g class="mark${dim}" data-mark="${i}">${markShape(m, xOf(m.t).toFixed(1), yOf.get(m.node))}<title>${esc(label)}</title></g>`;
  });
  return out;
}

function violationsSvg(yOf) {
  let out = '';
  D.violations.forEach((v, i) => v.ops.forEach(o => {
    if (o.t === undefined || !yOf.has(o.node) || o.t < st.v0 || o.t > st.v1) return;
    const x = xOf(o.t), y = yOf.get(o.node);
    out += `<g class="violation-marker" data-violation="${i}" data-op="${o.op}"><path d="M${x.toFixed(1)} ${y - 13}l6 6l-6 6l-6 -6z"/>` +
           `<title>${esc(v.invariant + ': op ' + o.op + ' (' + o.role + ')')}</title></g>`;
  }));
  return out;
}

function render() {
  const lanes = shownLanes(), yOf = new Map();
  lanes.forEach((l, i) => yOf.set(l.node, TOP + i * LANE + LANE / 2));
  const width = svg.clientWidth || 1200, height = TOP + lanes.length * LANE + BOTTOM;
  svg.setAttribute('height', height);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="5" markerHeight="5" orient="auto">' +
    '<path d="M0 0L6 3L0 6z" fill="#0072b2"/></marker><clipPath id="clip"><rect x="' + LEFT + '" y="0" width="' + plotWidth() +
    '" height="' + height + '"/></clipPath></defs>' + axis(height) + lanesSvg(yOf, width) +
    '<g clip-path="url(#clip)">' + faultsSvg(yOf) + messagesSvg(yOf) + marksSvg(yOf) + violationsSvg(yOf) + '</g>';
  document.getElementById('view').textContent = secs(st.v0) + ' .. ' + secs(st.v1);
}
let pending = false;
function redraw() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; render(); }); } }

function setView(v0, v1) {
  const span = Math.max(100, Math.min(D.end_us, v1 - v0));
  v0 = Math.max(0, Math.min(D.end_us - span, v0));
  st.v0 = v0; st.v1 = v0 + span;
}
function zoom(factor, aroundT) {
  const c = aroundT === undefined ? (st.v0 + st.v1) / 2 : aroundT;
  setView(c - (c - st.v0) * factor, c + (st.v1 - c) * factor);
  redraw();
}
function pan(fraction) { const s = st.v1 - st.v0; setView(st.v0 + s * fraction, st.v1 + s * fraction); redraw(); }

function hexDump(hex) {
  let out = '';
  for (let i = 0; i < hex.length; i += 32) {
    const line = hex.slice(i, i + 32).match(/../g).join(' ');
    out += (i / 2).toString(16).padStart(6, '0') + '  ' + line + '\n';
  }
  return out;
}
function decoded(hex) {
  if (!hex) return null;
  const bytes = new Uint8Array(hex.match(/../g).map(h => parseInt(h, 16)));
  let text;
  try { text = new TextDecoder('utf-8', {fatal: true}).decode(bytes); } catch (e) { return null; }
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return null;
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
}

function showMessage(id) {
  const m = messages.get(id);
  const el = document.getElementById('details');
  if (!m) { el.textContent = 'message ' + id + ' is not on this page'; return; }
  const rows = [['message', String(m.id)], ['sender', laneName.get(m.from) + ' (node ' + m.from + ')'],
    ['receiver', laneName.get(m.to) + ' (node ' + m.to + ')'], ['sent', secs(m.sent)],
    [m.fate === 'dropped' ? 'dropped' : 'delivered', m.at === null ? 'not on this page (in flight at the end, or after the cut)' : secs(m.at)],
    ['size', m.bytes + ' bytes']];
  if (m.duplicated) rows.push(['duplicated', 'yes']);
  if (m.hostile) rows.push(['origin', 'a malicious fault']);
  let html = '<h3>message ' + m.id + '</h3><table>' + rows.map(r => `<tr><td>${esc(r[0])}</td><td>${esc(r[1])}</td></tr>`).join('') + '</table>';
  if (m.hex !== undefined) {
    html += '<h4>bytes' + (m.cut ? ' (first ' + m.hex.length / 2 + ')' : '') + '</h4><pre class="hex">' + esc(hexDump(m.hex)) + '</pre>';
    const text = decoded(m.hex);
    if (text !== null) html += '<h4>as text</h4><pre class="text">' + esc(text) + '</pre>';
  }
  el.innerHTML = html;
}
function showMark(i) {
  const m = D.marks[i];
  const rows = [['event', m.kind], ['node', laneName.get(m.node) + ' (node ' + m.node + ')'], ['time', secs(m.t)]];
  if (m.op !== undefined) rows.push(['operation', String(m.op) + (m.what ? ' (' + m.what + ')' : '')]);
  if (m.target !== undefined) rows.push(['target', String(m.target)]);
  if (m.peer !== undefined) rows.push(['peer', laneName.get(m.peer) || String(m.peer)]);
  if (m.op !== undefined && violationOps.has(m.op)) rows.push(['violation', D.violations[violationOps.get(m.op)].invariant]);
  document.getElementById('details').innerHTML = '<h3>' + esc(m.kind) + '</h3><table>' +
    rows.map(r => `<tr><td>${esc(r[0])}</td><td>${esc(r[1])}</td></tr>`).join('') + '</table>';
}
function select(id, centre) {
  st.selected = id;
  const m = messages.get(id);
  if (m && centre) {
    const t2 = m.at === null ? m.sent : m.at, pad = Math.max(20000, (t2 - m.sent) * 4);
    setView(m.sent - pad, t2 + pad);
  }
  showMessage(id);
  document.body.dataset.selected = 'msg-' + id;
  render();
}
function showViolation(i) {
  const ts = D.violations[i].ops.filter(o => o.t !== undefined).map(o => o.t);
  if (ts.length) setView(Math.min(...ts) - 1e6, Math.max(...ts) + 2e6);
  st.focusOp = null;
  render();
}

function buildPanels() {
  const nodes = document.getElementById('filter-nodes');
  nodes.innerHTML = D.lanes.map(l => `<label><input type="checkbox" data-node="${l.node}" checked>${esc(l.name)}</label>`).join('');
  const kinds = document.getElementById('filter-kinds');
  kinds.innerHTML = KINDS.map(k => `<label><input type="checkbox" data-kind="${k}" checked>${k.replace('_', ' ')}</label>`).join('');
  nodes.addEventListener('change', e => { const n = +e.target.dataset.node; e.target.checked ? st.nodes.add(n) : st.nodes.delete(n); redraw(); });
  kinds.addEventListener('change', e => { const k = e.target.dataset.kind; e.target.checked ? st.kinds.add(k) : st.kinds.delete(k); redraw(); });
  document.getElementById('filter-ops').addEventListener('input', e => {
    const ids = e.target.value.split(/[\s,]+/).filter(s => /^\d+$/.test(s)).map(Number);
    st.ops = ids.length ? new Set(ids) : null;
    redraw();
  });
  const list = document.getElementById('violations');
  list.innerHTML = D.violations.length === 0 ? '<p>Every invariant held in this run.</p>' : '<ol>' + D.violations.map((v, i) =>
    `<li class="violation" data-violation="${i}"><b>${esc(v.invariant)}</b>: ${esc(v.subject)}<br>${esc(v.detail)}` +
    ` <button data-show="${i}">show</button><details><summary>report</summary><pre>${esc(v.report)}</pre></details></li>`).join('') + '</ol>';
  list.addEventListener('click', e => { if (e.target.dataset.show !== undefined) showViolation(+e.target.dataset.show); });
  document.getElementById('zoom-in').onclick = () => zoom(0.5);
  document.getElementById('zoom-out').onclick = () => zoom(2);
  document.getElementById('pan-left').onclick = () => pan(-0.25);
  document.getElementById('pan-right').onclick = () => pan(0.25);
  document.getElementById('whole').onclick = () => { setView(0, D.end_us); redraw(); };
}

function tOfEvent(e) {
  const r = svg.getBoundingClientRect();
  return st.v0 + (e.clientX - r.left - LEFT) / plotWidth() * (st.v1 - st.v0);
}
function bindPlot() {
  svg.addEventListener('wheel', e => { e.preventDefault(); zoom(e.deltaY > 0 ? 1.25 : 0.8, tOfEvent(e)); }, {passive: false});
  let drag = null;
  svg.addEventListener('pointerdown', e => { drag = {x: e.clientX, v0: st.v0, v1: st.v1, moved: false}; });
  window.addEventListener('pointermove', e => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    if (!drag.moved) return;
    const dt = dx / plotWidth() * (drag.v1 - drag.v0);
    setView(drag.v0 - dt, drag.v1 - dt);
    redraw();
  });
  window.addEventListener('pointerup', () => { setTimeout(() => { drag = null; }, 0); });
  svg.addEventListener('click', e => {
    if (drag && drag.moved) return;
    const msg = e.target.closest('[data-msg]'), mark = e.target.closest('[data-mark]'), vio = e.target.closest('[data-violation]');
    if (msg) select(+msg.dataset.msg, false);
    else if (mark) { const m = D.marks[+mark.dataset.mark]; st.focusOp = m.op === undefined ? null : m.op; showMark(+mark.dataset.mark); render(); }
    else if (vio) { st.focusOp = +vio.dataset.op; render(); }
    else if (st.focusOp !== null) { st.focusOp = null; render(); }
  });
  svg.addEventListener('mouseover', e => {
    const msg = e.target.closest('[data-msg]');
    if (msg && st.selected === null) showMessage(+msg.dataset.msg);
  });
}

buildPanels();
bindPlot();
window.addEventListener('resize', redraw);
render();
// A fragment such as #select=msg-12 selects that message on load: a link can point at one message.
const wanted = /^#select=msg-(\d+)$/.exec(location.hash);
if (wanted) select(+wanted[1], true);
// #click=msg-12 clicks that message's arrow as a user would: the browser test drives the page's own
// click handler with it.
const clicked = /^#click=msg-(\d+)$/.exec(location.hash);
if (clicked) {
  const arrow = document.querySelector('[data-msg="' + clicked[1] + '"]');
  if (arrow) arrow.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, view: window}));
}
// #drive=STEP,STEP,... plays gestures through the page's own handlers, as #click does, for the browser
// test of zoom and pan: zoom-in, zoom-out, pan-left, pan-right and whole (the buttons), wheel-in@F and
// wheel-out@F (the wheel, the pointer at fraction F of the plot's width), drag@F:G (press at F, move
// by G of the plot's width, release). The body's data-views holds the view [v0, v1] (microseconds)
// before the first step and after each.
const drive = /^#drive=([a-z0-9@:.,-]+)$/.exec(location.hash);
if (drive) {
  const views = [[st.v0, st.v1]];
  const box = svg.getBoundingClientRect(), y = box.top + 10;
  const xAt = f => box.left + LEFT + f * plotWidth();
  for (const step of drive[1].split(',')) {
    let m;
    if (/^(zoom-in|zoom-out|pan-left|pan-right|whole)$/.test(step)) {
      document.getElementById(step).click();
    } else if ((m = /^wheel-(in|out)@([0-9.]+)$/.exec(step))) {
      svg.dispatchEvent(new WheelEvent('wheel', {deltaY: m[1] === 'in' ? -100 : 100, clientX: xAt(+m[2]), clientY: y, bubbles: true, cancelable: true}));
    } else if ((m = /^drag@([0-9.]+):(-?[0-9.]+)$/.exec(step))) {
      const x0 = xAt(+m[1]), x1 = x0 + +m[2] * plotWidth();
      svg.dispatchEvent(new PointerEvent('pointerdown', {clientX: x0, clientY: y, bubbles: true}));
      window.dispatchEvent(new PointerEvent('pointermove', {clientX: x1, clientY: y}));
      window.dispatchEvent(new PointerEvent('pointerup', {clientX: x1, clientY: y}));
    } else {
      throw new Error('#drive: no such step: ' + step);
    }
    views.push([st.v0, st.v1]);
  }
  document.body.dataset.views = JSON.stringify(views);
  render();
}
document.body.dataset.ready = 'true';
})();
)js";

}  // namespace

std::string timeline_html(const TimelineRun& run, const TimelineLimits& limits) {
  std::string json = timeline_json(run, limits);
  // "<" occurs only inside JSON strings, where \u003c means the same: the data cannot close its element.
  std::string safe;
  safe.reserve(json.size());
  for (char c : json) safe += c == '<' ? std::string("\\u003c") : std::string(1, c);
  std::string notice;
  if (const nlohmann::json j = nlohmann::json::parse(json); j["cut_at_us"].is_number()) {
    notice = fmt::format(
        "<p class=\"notice\" id=\"cut-notice\">This page holds the first {} of the run's {} events (timers and digests "
        "aside; the limit is {}): the run after {:.6f} s is not shown. Use <code>--trace</code> for every event.</p>",
        j["events_embedded"].get<std::uint64_t>(), j["events_total"].get<std::uint64_t>(), limits.events_max,
        static_cast<double>(j["cut_at_us"].get<std::int64_t>()) / 1e6);
  }
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{0}</title>\n<style>{1}</style>\n</head>\n"
      "<body>\n<header><h1>{0}</h1><div>replay: <code>{2}</code></div>{3}\n"
      "<div class=\"legend\"><span><i class=\"sw\" style=\"background:#0072b2\"></i>message</span>"
      "<span><i class=\"sw\" style=\"background:#d55e00\"></i>dropped / reset</span>"
      "<span><i class=\"sw\" style=\"background:#cc79a7\"></i>operation issued (circle) / applied</span>"
      "<span><i class=\"sw\" style=\"background:#009e73\"></i>acknowledged</span>"
      "<span><i class=\"sw\" style=\"background:#e69f00;opacity:.4\"></i>partition</span>"
      "<span><i class=\"sw\" style=\"background:#999;opacity:.4\"></i>offline</span>"
      "<span><i class=\"sw\" style=\"background:#000;opacity:.4\"></i>crashed</span>"
      "<span><i class=\"sw\" style=\"background:#d00\"></i>violation</span></div></header>\n"
      "<div id=\"wrap\"><div id=\"main\"><div id=\"controls\">"
      "<span><button id=\"zoom-in\">zoom in</button><button id=\"zoom-out\">zoom out</button>"
      "<button id=\"pan-left\">&#9664;</button><button id=\"pan-right\">&#9654;</button>"
      "<button id=\"whole\">whole run</button> <span id=\"view\"></span></span>"
      "<label>operations <input id=\"filter-ops\" type=\"text\" size=\"14\" placeholder=\"ids, e.g. 4, 17\"></label>"
      "<fieldset><legend>events</legend><span id=\"filter-kinds\"></span></fieldset>"
      "<fieldset><legend>nodes</legend><span id=\"filter-nodes\"></span></fieldset></div>\n"
      "<svg id=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"timeline\"></svg>\n"
      "<p>Wheel: zoom around the pointer. Drag: pan. Click a message or a mark for its details.</p></div>\n"
      "<aside id=\"side\"><h2>Violations</h2><div id=\"violations\"></div><h2>Details</h2>"
      "<div id=\"details\">Point at a message or click a mark.</div></aside></div>\n"
      "<script type=\"application/json\" id=\"timeline-data\">{4}</script>\n<script>{5}</script>\n</body>\n</html>\n",
      markup_escape(run.title), kStyle, markup_escape(run.replay), notice, safe, kScript);
}

}  // namespace syncstorm

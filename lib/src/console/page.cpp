// The web console's page: one HTML document with its style and script,
// served as is (no build step, nothing loaded from elsewhere). It polls
// GET /api/state every second and sends actions to POST /api/control with
// the token from the URL's fragment (#token=...), which never leaves the
// browser except in that header. Views: topics, groups (lag, skew with the
// hot keys of skewed partitions, breaker, retries, DLQ depth and age against
// the triage SLA; pause, resume, set-workers), event status (locate), and
// dead letters (the CLI's filters, one letter in full, redrive, purge).
#include "console/server.hpp"

namespace weir::internal {

const char* const kConsolePage = R"WEIRPAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>weir console</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; margin: .3em 0 .8em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th { background: #f2f2f2; } td.name, th.name { text-align: left; }
tr.skewed td { background: #ffe0b3; font-weight: bold; }
.group { border: 1px solid #bbb; border-radius: 4px; padding: .5em .8em; margin: .6em 0; }
.bad { color: #b00; font-weight: bold; } .muted { color: #777; }
button { margin-right: .3em; } input { width: 6em; }
#status { color: #555; } #message { margin: .5em 0; }
td.hot-keys { text-align: left; font-family: monospace; }
#letter { background: #f7f7f7; border: 1px solid #ccc; padding: .5em; white-space: pre-wrap; max-width: 70em; }
#help { color: #555; } kbd { border: 1px solid #aaa; border-radius: 3px; padding: 0 .3em; font-size: .9em; }
.state-dead_lettered { color: #b00; font-weight: bold; }
</style>
</head>
<body>
<h1>weir console</h1>
<div id="status">loading...</div>
<div id="help" hidden>Keys: <kbd>/</kbd> event status lookup, <kbd>d</kbd> dead-letter filters,
  <kbd>r</kbd> refresh now, <kbd>?</kbd> this help.</div>
<div id="message"></div>

<h2>Topics</h2>
<table id="topics"><thead><tr><th class="name">topic</th><th>partition</th><th>start</th><th>end</th><th>bytes</th><th>events/s</th></tr></thead><tbody></tbody></table>

<h2>Groups</h2>
<div id="groups"></div>

<h2>Event status</h2>
<div>
  group <select id="loc-group"></select>
  <select id="loc-by"><option value="key">key</option><option value="id">id</option></select>
  <input id="loc-value" style="width: 18em">
  <button id="loc-go">look up</button>
</div>
<table id="locations"><thead><tr><th class="name">topic</th><th>partition</th><th>offset</th><th class="name">key</th>
<th class="name">id</th><th class="name">state</th><th class="name">detail</th></tr></thead><tbody></tbody></table>

<h2>Dead letters</h2>
<div>
  group <select id="dlq-group"></select>
  dlq offset <input id="dlq-offset" type="number" min="0">
  key <input id="dlq-key"> type <input id="dlq-type"> reason contains <input id="dlq-reason">
  failed from <input id="dlq-from" type="datetime-local" step="1" style="width: 14em">
  to <input id="dlq-to" type="datetime-local" step="1" style="width: 14em"> (local time)
  <button id="dlq-load">list</button>
  <button id="redrive-dry" class="action">redrive (dry run)</button>
  <button id="purge-dry" class="action">purge...</button>
</div>
<div id="plan" hidden>
  <span id="plan-text"></span>
  <button id="redrive-confirm" class="action" hidden>confirm redrive</button>
  <button id="purge-confirm" class="action" hidden>confirm purge</button>
  <button id="plan-cancel">cancel</button>
</div>
<table id="dlq"><thead><tr><th>dlq offset</th><th class="name">key</th><th class="name">type</th><th class="name">reason</th><th>attempts</th><th class="name">last failure</th><th class="name">from</th><th></th></tr></thead><tbody></tbody></table>
<pre id="letter" hidden></pre>

<script>
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const $ = (s, root) => (root || document).querySelector(s);
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const iso = (us) => us ? new Date(us / 1000).toISOString() : "-";
const bytes = (o, name) => o[name] !== undefined ? o[name] : "base64:" + o[name + "_b64"];
const age = (s) => s < 1 ? s.toFixed(2) + " s" : s < 120 ? s.toFixed(1) + " s" : s < 7200 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(1) + " h";
let last = null, prevEnds = {};

function message(text, bad) { const m = $("#message"); m.textContent = text; m.className = bad ? "bad" : ""; }

async function control(req) {
  const r = await fetch("/api/control", {method: "POST", headers: {"Content-Type": "application/json", "X-Weir-Token": token}, body: JSON.stringify(req)});
  const lines = await r.json();
  const end = lines[lines.length - 1] || {};
  if (!end.ok) throw new Error(end.error || ("HTTP " + r.status));
  return {rows: lines.slice(0, -1), end};
}

function renderTopics(s) {
  const rows = [];
  const dt = last ? (s.taken_at_ms - last.taken_at_ms) / 1000 : 0;
  for (const t of s.topics) for (const p of t.partitions) {
    const k = t.topic + "/" + p.partition;
    const rate = dt > 0 && k in prevEnds ? ((p.end - prevEnds[k]) / dt).toFixed(1) : "-";
    prevEnds[k] = p.end;
    rows.push(`<tr><td class="name">${esc(t.topic)}</td><td>${p.partition}</td><td>${p.start}</td><td>${p.end}</td><td>${p.bytes}</td><td>${rate}</td></tr>`);
  }
  $("#topics tbody").innerHTML = rows.join("");
}

function groupBox(g) {
  let box = document.querySelector(`.group[data-group="${CSS.escape(g.group)}"]`);
  if (box) return box;
  box = document.createElement("div");
  box.className = "group";
  box.dataset.group = g.group;
  box.innerHTML = `<div><b>${esc(g.group)}</b> on <span class="topic">${esc(g.topic)}</span>
    <span class="summary"></span></div>
    <div><button class="pause action">pause</button><button class="resume action">resume</button>
    workers <input class="workers" type="number" min="1"><button class="set-workers action">set workers</button></div>
    <table><thead><tr><th>partition</th><th>committed</th><th>end</th><th>lag (events)</th><th>lag (seconds)</th>
    <th>in flight</th><th>parked</th><th>worker</th><th class="name">state</th><th class="name">hot keys</th></tr></thead><tbody></tbody></table>`;
  if (!token) box.querySelectorAll(".action").forEach((b) => { b.disabled = true; });
  const act = (verb, extra) => async () => {
    try { await control(Object.assign({verb, group: g.group}, extra ? extra() : {})); message(`${verb} ${g.group}: done`); poll(); }
    catch (e) { message(`${verb} ${g.group}: ${e.message}`, true); }
  };
  $(".pause", box).onclick = act("pause");
  $(".resume", box).onclick = act("resume");
  $(".set-workers", box).onclick = act("set_workers", () => ({workers: Number($(".workers", box).value)}));
  $("#groups").appendChild(box);
  for (const sel of ["#dlq-group", "#loc-group"]) {
    const opt = document.createElement("option");
    opt.value = g.group;
    opt.textContent = sel === "#loc-group" ? `${g.group} on ${g.topic}` : g.group;
    opt.dataset.topic = g.topic;
    $(sel).appendChild(opt);
  }
  return box;
}

function renderGroups(s) {
  for (const g of s.groups) {
    const box = groupBox(g);
    const lag = g.partitions.reduce((a, p) => a + p.lag, 0);
    $(".summary", box).innerHTML = ` &mdash; workers <span class="workers-now">${g.workers}</span>,
      lag <span class="lag-total">${lag}</span>,
      breaker <span class="breaker ${g.breaker === "closed" ? "" : "bad"}">${esc(g.breaker)}</span> (${g.breaker_trips} trips),
      retries <span class="retry-rate">${g.retry_rate.toFixed(2)}</span>/s,
      DLQ <span class="dlq-count ${g.dlq_count ? "bad" : ""}">${g.dlq_count}</span>
      ${g.dlq_count ? `(oldest <span class="dlq-age ${g.dlq_triage_sla_seconds && g.dlq_oldest_age_seconds > g.dlq_triage_sla_seconds ? "bad" : ""}">${age(g.dlq_oldest_age_seconds)}</span>` +
        (g.dlq_triage_sla_seconds ? `, triage SLA <span class="dlq-sla">${age(g.dlq_triage_sla_seconds)}</span>${g.dlq_oldest_age_seconds > g.dlq_triage_sla_seconds ? ' <span class="bad">over SLA</span>' : ""}` : "") + ")" : ""}
      ${g.dlq_dropped ? `<span class="bad">${g.dlq_dropped} dead letters dropped</span>` : ""}
      ${g.paused ? '<span class="paused bad">paused</span>' : ""}`;
    const w = $(".workers", box);
    if (document.activeElement !== w && !w.value) w.value = g.workers;
    $("tbody", box).innerHTML = g.partitions.map((p) => `<tr data-partition="${p.partition}" class="${p.skewed ? "skewed" : ""}">
      <td>${p.partition}</td><td class="committed">${p.committed}</td><td class="end">${p.end}</td>
      <td class="lag">${p.lag}</td><td class="lag-seconds">${p.lag_seconds.toFixed(1)}</td><td>${p.in_flight}</td>
      <td>${p.parked}</td><td>${p.worker}</td>
      <td class="name">${[p.paused ? "paused" : "", p.stopped ? "stopped" : "", p.skewed ? "skewed" : ""].filter(Boolean).join(", ") || "ok"}</td>
      <td class="hot-keys">${(p.hot_keys || []).map((k) => esc(k.key) + " &times;" + k.count).join(", ")}</td></tr>`).join("");
  }
}

async function poll() {
  try {
    const r = await fetch("/api/state", {cache: "no-store"});
    const s = await r.json();
    renderTopics(s);
    renderGroups(s);
    last = s;
    $("#status").textContent = "updated " + new Date(s.taken_at_ms).toISOString() + (token ? "" : " — read-only: open the URL from `weir console-url DIR` to act");
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (e) {
    $("#status").textContent = "cannot reach the bus: " + e.message;
  }
}

// The filters of `weir dlq list` (DeadLetterFilter).
function filter() {
  const f = {};
  if ($("#dlq-offset").value !== "") f.dlq_offset = Number($("#dlq-offset").value);
  if ($("#dlq-key").value) f.key = $("#dlq-key").value;
  if ($("#dlq-type").value) f.type = $("#dlq-type").value;
  if ($("#dlq-reason").value) f.reason_contains = $("#dlq-reason").value;
  if ($("#dlq-from").value) f.failed_from_us = new Date($("#dlq-from").value).getTime() * 1000;
  if ($("#dlq-to").value) f.failed_to_us = new Date($("#dlq-to").value).getTime() * 1000;
  return f;
}

function showLetters(rows) {
  $("#letter").hidden = true;
  $("#dlq tbody").innerHTML = rows.map(({letter: d}) => `<tr data-dlq-offset="${d.dlq_offset}"><td>${d.dlq_offset}</td>
    <td class="name">${esc(bytes(d, "key"))}</td><td class="name">${esc(d.type)}</td>
    <td class="name">${esc(d.reason)}</td><td>${d.attempts}</td><td class="name">${iso(d.last_failure_us)}</td>
    <td class="name">${esc(d.topic)}/${d.partition}@${d.offset}</td>
    <td><button class="show" data-dlq-offset="${d.dlq_offset}">show</button></td></tr>`).join("");
  for (const b of document.querySelectorAll("#dlq button.show")) b.onclick = () => showLetter(Number(b.dataset.dlqOffset));
}

// One letter in full, as `weir dlq show`.
async function showLetter(offset) {
  const group = $("#dlq-group").value;
  try {
    const {end: {letter: d}} = await control({verb: "dlq_show", group, dlq_offset: offset});
    const lines = [["group", group], ["dlq_offset", d.dlq_offset], ["topic", d.topic], ["partition", d.partition],
      ["offset", d.offset], ["key", bytes(d, "key")], ["type", d.type], ["reason", d.reason], ["attempts", d.attempts],
      ["first_failure", iso(d.first_failure_us)], ["last_failure", iso(d.last_failure_us)], ["time", iso(d.time_us)],
      ["id", d.id], ["value", bytes(d, "payload")]];
    const text = lines.map(([k, v]) => k.padEnd(14) + v).join("\n") + "\nheaders\n" +
      d.headers.map((h) => "  " + h.name + "=" + bytes(h, "value")).join("\n");
    $("#letter").textContent = text;
    $("#letter").dataset.dlqOffset = String(d.dlq_offset);
    $("#letter").hidden = false;
  } catch (e) { message(`dlq_show ${group} ${offset}: ${e.message}`, true); }
}

// What a location means, as `weir status` says it.
function detail(l) {
  let d;
  switch (l.state) {
    case "done": d = `handled: the group's committed offset ${l.committed} is past it`; break;
    case "in_flight": d = `in flight: handed to worker ${l.worker}` + (l.in_flight_since_us ? ` at ${iso(l.in_flight_since_us)}` : "") + ", not yet acknowledged"; break;
    case "retrying": d = `retrying: on attempt ${l.attempt}, ` + (l.next_try_us ? `next try at ${iso(l.next_try_us)}` : "next try when the group runs again"); break;
    case "parked": d = `parked behind offset ${l.parked_behind}, a failing event of the same key`; break;
    case "dead_lettered": d = `dead-lettered ${iso(l.dead_lettered_us)} after ${l.attempt} attempt(s): ${l.reason} (dlq offset ${l.dlq_offset})`; break;
    default: d = `not yet reached: ${l.ahead} event(s) of the partition ahead of it`;
  }
  if (!l.group_running) d += " (group not running)";
  if (l.paused) d += " (partition paused)";
  if (l.stopped) d += " (partition stopped by a permanent failure)";
  return d;
}

async function locate() {
  const sel = $("#loc-group");
  const opt = sel.options[sel.selectedIndex];
  const value = $("#loc-value").value;
  if (!opt || !value) return;
  const req = {verb: "locate", group: opt.value, topic: opt.dataset.topic};
  req[$("#loc-by").value] = value;
  try {
    const {rows} = await control(req);
    $("#locations tbody").innerHTML = rows.map(({location: l}) => `<tr data-offset="${l.offset}"><td class="name">${esc(l.topic)}</td>
      <td>${l.partition}</td><td>${l.offset}</td><td class="name">${esc(bytes(l, "key"))}</td><td class="name">${esc(l.id)}</td>
      <td class="name state state-${l.state}">${l.state.replace("_", "-")}</td><td class="name detail">${esc(detail(l))}</td></tr>`).join("") ||
      `<tr><td class="name" colspan="7">no event with ${esc($("#loc-by").value)} '${esc(value)}' in topic '${esc(opt.dataset.topic)}' (retention may have deleted it)</td></tr>`;
  } catch (e) { message(`status of ${value}: ${e.message}`, true); }
}
$("#loc-go").onclick = locate;
$("#loc-value").onkeydown = (e) => { if (e.key === "Enter") locate(); };

function plan(text, which) {
  $("#plan").hidden = false;
  $("#plan-text").textContent = text;
  $("#redrive-confirm").hidden = which !== "redrive";
  $("#purge-confirm").hidden = which !== "purge";
}
function endPlan() { $("#plan").hidden = true; }

async function dlq(verb, extra, done) {
  const group = $("#dlq-group").value;
  if (!group) return;
  try {
    const r = await control(Object.assign({verb, group, filter: filter()}, extra || {}));
    done(r, group);
  } catch (e) { message(`${verb} ${group}: ${e.message}`, true); }
}

$("#dlq-load").onclick = () => dlq("dlq_list", {}, (r) => showLetters(r.rows));
$("#redrive-dry").onclick = () => dlq("dlq_redrive", {dry_run: true}, (r, g) => {
  showLetters(r.rows);
  plan(`${r.end.matched} dead letters of ${g} would be redriven.`, r.end.matched ? "redrive" : "");
});
$("#redrive-confirm").onclick = () => dlq("dlq_redrive", {}, (r, g) => {
  endPlan(); showLetters([]); message(`redrove ${r.end.moved} dead letters of ${g}`); poll();
});
$("#purge-dry").onclick = () => dlq("dlq_list", {limit: 100000}, (r, g) => {
  showLetters(r.rows);
  plan(`${r.rows.length} dead letters of ${g} would be purged.`, r.rows.length ? "purge" : "");
});
$("#purge-confirm").onclick = () => dlq("dlq_purge", {}, (r, g) => {
  endPlan(); showLetters([]); message(`purged ${r.end.purged} dead letters of ${g}`); poll();
});
$("#plan-cancel").onclick = endPlan;
// One-key shortcuts, ignored while typing in a field.
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) return;
  if (e.key === "/") { e.preventDefault(); $("#loc-value").focus(); }
  else if (e.key === "d") { e.preventDefault(); $("#dlq-key").focus(); }
  else if (e.key === "r") poll();
  else if (e.key === "?") $("#help").hidden = !$("#help").hidden;
});
if (!token) for (const b of document.querySelectorAll(".action, #loc-go, #dlq-load")) b.disabled = true;
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
)WEIRPAGE";

}  // namespace weir::internal

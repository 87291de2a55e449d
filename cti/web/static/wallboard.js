// The wallboard: live figures over /ws/wallboard, a last-hour chart, the alarm list.
// The token comes once in the address fragment (#token=...), is kept in this
// tab's sessionStorage (gone when the tab closes, never kept on disk for the next
// user) and removed from the address bar; without one a form asks for it.
"use strict";

const WB_TOKEN_KEY = "hotline.wallboard.token";
const board = { socket: null, queues: {}, last: null };
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

function pct(value) {
  return value === null || value === undefined ? t("wb.none") : (value * 100).toFixed(1) + "%";
}

function secs(value) {
  if (value === null || value === undefined) return t("wb.none");
  const s = Math.round(value);
  return s < 60 ? t("wb.seconds", s) : t("wb.minutes", Math.floor(s / 60), String(s % 60).padStart(2, "0"));
}

function setTile(id, text, level) {
  const tile = $(id);
  tile.querySelector(".value").textContent = text;
  tile.classList.remove("amber", "red");
  if (level === "amber" || level === "red") tile.classList.add(level);
  tile.dataset.level = level || "ok";
}

function render(wb) {
  board.last = wb;
  const total = wb.total;
  board.queues = Object.fromEntries(wb.queues.map((q) => [q.id, q.name]));
  $("platform").textContent = total.name;
  setTile("tile-waiting", String(total.waiting), total.levels.waiting);
  setTile("tile-longest", secs(total.longest_wait_s), total.levels.longest_wait_s);
  setTile("tile-rate", pct(total.today.connection_rate), total.levels.connection_rate);
  setTile("tile-sl", pct(total.today.answer_rate_sl));
  setTile("tile-satisfaction", pct(total.satisfaction_rate));
  setTile("tile-callbacks", String(total.callbacks_open));
  const cb = wb.callbacks;
  setTile("tile-callbacks-overdue", cb ? String(cb.overdue) : "–", cb && cb.overdue > 0 ? "amber" : "ok");
  setTile("tile-callbacks-done", cb ? String(cb.done_today) : "–");
  setTile("tile-callbacks-in-time", cb ? pct(cb.in_time_share) : "–");
  setTile("tile-offered", String(total.today.offered));
  setTile("tile-answered", String(total.today.answered));
  setTile("tile-abandoned", String(total.today.abandoned));
  setTile("tile-avg-wait", secs(total.today.avg_wait_s));
  setTile("tile-avg-handle", secs(total.today.avg_handle_s));
  renderAgents(total.agents, wb.pause_labels);
  renderQueues(wb.queues);
  renderChart(wb.chart);
  renderAlarms(wb.alarms);
  $("updated").textContent = t("wb.updated", formatTime(wb.at));
}

function chip(key, count, label) {
  return el("div", { class: "chip " + key, "data-state": key },
    el("span", { class: "count", text: String(count) }),
    el("span", { class: "what", text: label }));
}

function renderAgents(a, labels) {
  const chips = [
    chip("ready", a.ready, t("wb.ready")),
    chip("ringing", a.ringing, t("wb.ringing")),
    chip("on_call", a.on_call, t("wb.on_call")),
    chip("wrapup", a.wrapup, t("wb.wrapup")),
  ];
  const reasons = Object.entries(a.paused_by_reason);
  if (reasons.length === 0) chips.push(chip("paused", 0, t("wb.paused")));
  for (const [reason, n] of reasons) {
    chips.push(chip("paused", n, t("wb.paused") + "·" + (labels[reason] || reason)));
  }
  chips.push(chip("offline", a.offline, t("wb.offline")));
  if (a.unreachable) chips.push(chip("unreachable", a.unreachable, t("wb.unreachable")));
  if (a.busy_outside) chips.push(chip("busy_outside", a.busy_outside, t("wb.busy_outside")));
  $("agent-states").replaceChildren(...chips);
}

function cell(text, level) {
  const td = el("td", { text });
  if (level === "amber" || level === "red") td.className = level;
  return td;
}

function renderQueues(queues) {
  const rows = queues.map((q) =>
    el("tr", { "data-queue": q.id },
      el("th", { text: q.name }),
      cell(String(q.waiting), q.levels.waiting),
      cell(secs(q.longest_wait_s), q.levels.longest_wait_s),
      cell(String(q.agents.ready)),
      cell(String(q.agents.on_call + q.agents.ringing)),
      cell(String(q.agents.wrapup)),
      cell(String(q.agents.paused)),
      cell(String(q.today.offered)),
      cell(String(q.today.answered)),
      cell(String(q.today.abandoned)),
      cell(pct(q.today.connection_rate), q.levels.connection_rate),
      cell(pct(q.today.answer_rate_sl)),
      cell(secs(q.today.avg_wait_s)),
      cell(secs(q.today.avg_handle_s)),
      cell(pct(q.satisfaction_rate)),
      cell(String(q.callbacks_open))));
  $("queue-rows").replaceChildren(...rows);
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function renderChart(points) {
  const width = 1380;
  const height = 190;
  const pad = { left: 60, right: 70, top: 12, bottom: 34 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const most = Math.max(1, ...points.map((p) => p.offered));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height });
  const slot = plotW / Math.max(1, points.length);
  const barW = slot / 4;
  const y = (v) => pad.top + plotH - (v / most) * plotH;
  root.append(svg("line", { x1: pad.left, y1: pad.top + plotH, x2: width - pad.right,
    y2: pad.top + plotH, class: "axis" }));
  const label = (x, yy, text, cls) => {
    const node = svg("text", { x, y: yy, class: cls });
    node.textContent = text;
    root.append(node);
  };
  label(pad.left - 10, y(most) + 8, String(most), "tick end");
  label(pad.left - 10, y(0), "0", "tick end");
  label(width - pad.right + 10, pad.top + 8, "100%", "tick");
  label(width - pad.right + 10, pad.top + plotH, "0%", "tick");
  const rateLine = [];
  points.forEach((p, i) => {
    const x0 = pad.left + i * slot + slot / 8;
    [["offered", p.offered], ["answered", p.answered], ["abandoned", p.abandoned]].forEach(
      ([cls, v], j) => {
        root.append(svg("rect", { x: x0 + j * barW, y: y(v), width: barW - 2,
          height: pad.top + plotH - y(v), class: "bar " + cls }));
      });
    if (p.connection_rate !== null) {
      rateLine.push([pad.left + i * slot + slot / 2, pad.top + plotH - p.connection_rate * plotH]);
    }
    if (i % 2 === 0) label(pad.left + i * slot + slot / 2, height - 10, formatTime(p.start).slice(0, 5), "tick mid");
  });
  if (rateLine.length > 1) {
    root.append(svg("polyline", { points: rateLine.map((p) => p.join(",")).join(" "), class: "rate" }));
  }
  for (const [x, yy] of rateLine) root.append(svg("circle", { cx: x, cy: yy, r: 5, class: "rate-dot" }));
  $("legend").replaceChildren(
    ...[["offered", "wb.chart_offered"], ["answered", "wb.chart_answered"],
      ["abandoned", "wb.chart_abandoned"], ["rate", "wb.chart_rate"]].map(([cls, key]) =>
      el("span", { class: "key " + cls, text: t(key) })));
  $("chart").replaceChildren(root);
}

function scopeName(alarm) {
  if (alarm.scope === "total") return t("alarm.scope.total");
  return board.queues[alarm.scope] || alarm.scope;
}

function alarmValue(alarm) {
  if (alarm.value === null) return "";
  if (alarm.figure === "connection_rate") return pct(alarm.value) + " / " + pct(alarm.threshold);
  if (alarm.figure === "longest_wait_s") return secs(alarm.value) + " / " + secs(alarm.threshold);
  return alarm.value + " / " + alarm.threshold;
}

function renderAlarms(alarms) {
  const items = alarms.map((a) =>
    el("li", { class: "alarm " + a.level + (a.cleared_at ? " cleared" : ""), "data-figure": a.figure },
      el("span", { class: "when", text: formatTime(a.raised_at) }),
      el("span", { class: "level", text: t("alarm.level." + a.level) }),
      el("span", { class: "what", text: t("alarm." + a.figure) + " · " + scopeName(a) }),
      el("span", { class: "value", text: alarmValue(a) }),
      el("span", { class: "state",
        text: a.cleared_at ? t("wb.alarm_cleared", formatTime(a.cleared_at)) : t("wb.alarm_open") })));
  $("alarm-list").replaceChildren(...(items.length ? items : [el("li", { class: "none", text: t("wb.no_alarms") })]));
}

function connect(token) {
  show(true);
  board.socket = new LiveSocket("/ws/wallboard", token, {
    onStatus: (status) => {
      $("conn").textContent = t("conn." + status);
      $("conn").className = "conn " + status;
      document.body.dataset.conn = status;
    },
    onMessage: (data) => {
      if (data.type === "wallboard") render(data.wallboard);
    },
    onEnded: () => {
      sessionStorage.removeItem(WB_TOKEN_KEY);
      askToken(t("wb.token_bad"));
    },
  });
}

function show(onBoard) {
  $("board").classList.toggle("hidden", !onBoard);
  $("token-form-box").classList.toggle("hidden", onBoard);
}

function askToken(note) {
  show(false);
  $("token-error").textContent = note || "";
  $("token-input").focus();
}

function start() {
  applyStrings(document);
  document.title = t("app.wallboard_title");
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(WB_TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    $("token-input").value = "";
    sessionStorage.setItem(WB_TOKEN_KEY, token);
    connect(token);
  });
  const clock = () => {
    $("clock").textContent = formatTime(new Date().toISOString());
  };
  clock();
  setInterval(clock, 1000);
  const token = sessionStorage.getItem(WB_TOKEN_KEY);
  if (token) connect(token);
  else askToken("");
}

document.addEventListener("DOMContentLoaded", start);

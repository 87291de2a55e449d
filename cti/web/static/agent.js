// The agent toolbar: login, state buttons with a timer, the screen pop, the transfer panel.
// Keyboard: F2 ready, F3 pause (then a digit), F4 end wrap-up, F6 transfer panel,
// F7 callback panel (callbacks.js), F9 log out, Esc closes the open menu or panel; every control is also reachable with Tab.
"use strict";

const TOKEN_KEY = "hotline.agent.token";
const page = {
  token: null,
  socket: null,
  agent: null,
  call: null,
  skew: 0, // server clock minus local clock, in ms
  directory: null,
  transfers: null, // transfer operations the server offers, from /api/openapi.json
  historyFor: null,
  history: null, // { callId, repeat } of the last history loaded
  leaving: false,
};

const $ = (id) => document.getElementById(id);

function show(id, visible) {
  $(id).classList.toggle("hidden", !visible);
}

function say(text) {
  $("message").textContent = text || "";
}

function failed(result) {
  const reason = result.body && result.body.message ? result.body.message : String(result.status);
  say(t("error.request", reason));
}

// ---------------------------------------------------------------- login

function showLogin(note) {
  if (page.socket) page.socket.stop();
  page.socket = null;
  page.token = null;
  page.agent = null;
  page.call = null;
  sessionStorage.removeItem(TOKEN_KEY);
  show("desk", false);
  show("login", true);
  $("login-error").textContent = note || "";
  $("who").textContent = "";
  $("state-label").textContent = t("status.logged_out");
  $("state-label").className = "badge";
  $("state-timer").textContent = "";
  $("login-agent").focus();
}

async function onLogin(event) {
  event.preventDefault();
  const body = {
    agent: $("login-agent").value.trim(),
    pin: $("login-pin").value,
    seat: $("login-seat").value.trim(),
  };
  const result = await api("POST", "/api/agents/login", null, body);
  $("login-pin").value = "";
  if (result.status !== 200) {
    const reason = result.body && result.body.message ? result.body.message : result.status;
    $("login-error").textContent = t("login.failed", reason);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, result.body.token);
  await startDesk(result.body.token);
}

async function startDesk(token) {
  const me = await api("GET", "/api/agents/me", token);
  if (me.status !== 200) {
    showLogin(me.status === 401 ? t("login.expired") : "");
    return;
  }
  page.token = token;
  page.leaving = false;
  show("login", false);
  show("desk", true);
  render(me.body, me.body.call, null);
  const directory = await api("GET", "/api/agents/me/directory", token);
  if (directory.status === 200) page.directory = directory.body;
  await loadTransferOperations();
  renderTransferPanel();
  await loadOutboundSettings();
  page.socket = new LiveSocket("/ws/agent", token, {
    onStatus: (status) => {
      $("conn").textContent = t("conn." + status);
      $("conn").className = "conn " + status;
    },
    onMessage: onLive,
    onEnded: (code) => {
      const note = page.leaving ? "" : code === 4000 ? t("login.forced_out") : t("login.expired");
      showLogin(note);
    },
  });
  $("btn-ready").focus();
}

function onLive(data) {
  if (data.type === "state") {
    render(data.agent, data.call, data.now);
  } else if (data.type === "logged_out") {
    page.socket.stop();
    showLogin(page.leaving ? "" : t("login.forced_out"));
  }
}

// ---------------------------------------------------------------- state

function render(agent, call, now) {
  if (now) page.skew = new Date(now).getTime() - Date.now();
  page.agent = agent;
  $("who").textContent = agent.name + " " + agent.agent + (agent.seat ? " · " + agent.seat : "");
  const label = $("state-label");
  const busyState = ["ringing", "on_call", "wrapup"].includes(agent.state);
  let pausedText = "";
  if (agent.status === "paused") {
    const reason = page.directory
      ? (page.directory.pause_reasons.find((r) => r.id === agent.reason) || {}).label
      : null;
    pausedText = t("status.paused") + (reason ? "·" + reason : "");
  }
  if (busyState) {
    label.textContent = t("state." + agent.state) + (pausedText ? " / " + pausedText : "");
    label.className = "badge " + agent.state;
  } else if (pausedText) {
    label.textContent = pausedText;
    label.className = "badge paused";
  } else if (agent.status === "ready") {
    label.textContent = t("state." + agent.state);
    label.className = "badge " + agent.state;
  } else {
    label.textContent = t("status." + agent.status);
    label.className = "badge";
  }
  label.dataset.status = agent.status;
  label.dataset.state = agent.state;
  label.dataset.reason = agent.reason;
  $("btn-wrapup").disabled = agent.state !== "wrapup";
  tick();
  renderCall(call);
  onCallShown(call);
}

function tick() {
  const agent = page.agent;
  if (!agent || !agent.since) {
    $("state-timer").textContent = "";
    return;
  }
  const elapsed = (Date.now() + page.skew - new Date(agent.since).getTime()) / 1000;
  $("state-timer").textContent = t("state.timer", formatDuration(elapsed));
}

async function act(method, path, body) {
  const result = await api(method, path, page.token, body);
  if (result.status === 401) {
    showLogin(t("login.expired"));
    return null;
  }
  if (result.status !== 200) {
    failed(result);
    return null;
  }
  say("");
  return result.body;
}

async function ready() {
  const view = await act("POST", "/api/agents/me/ready");
  if (view) render(view, page.call, null);
}

async function endWrapup() {
  const view = await act("POST", "/api/agents/me/wrapup/end");
  if (view) render(view, page.call, null);
}

async function logout() {
  page.leaving = true;
  const view = await act("POST", "/api/agents/me/logout");
  if (view) showLogin("");
  else page.leaving = false;
}

function openPauseMenu() {
  const list = $("pause-reasons");
  list.replaceChildren();
  const reasons = page.directory ? page.directory.pause_reasons : [];
  reasons.slice(0, 9).forEach((reason, i) => {
    const limit = reason.max_minutes ? t("pause.minutes", reason.max_minutes) : "";
    const button = el(
      "button",
      { type: "button", role: "menuitem", "data-reason": reason.id, onclick: () => pause(reason.id) },
      el("kbd", { text: String(i + 1) }),
      " " + reason.label + limit,
    );
    list.append(button);
  });
  show("pause-menu", true);
  const first = list.querySelector("button");
  if (first) first.focus();
}

function closePauseMenu() {
  show("pause-menu", false);
  $("btn-pause").focus();
}

async function pause(reason) {
  show("pause-menu", false);
  const view = await act("POST", "/api/agents/me/pause", { reason });
  if (view) render(view, page.call, null);
  $("btn-pause").focus();
}

// ---------------------------------------------------------------- the screen pop

function text(id, value) {
  $(id).textContent = value === null || value === undefined || value === "" ? "—" : value;
}

function renderCall(call) {
  const panel = $("call");
  const before = page.call;
  page.call = call;
  if (!call) {
    show("call-body", false);
    show("call-none", true);
    panel.className = "panel call idle";
    page.historyFor = null;
    return;
  }
  show("call-none", false);
  show("call-body", true);
  panel.className = "panel call " + call.state;
  panel.dataset.callId = call.call_id;
  $("call-phase").textContent = call.state === "ringing" ? t("call.ringing") : t("call.talking");
  text("call-number", call.caller_number || t("call.anonymous"));
  text("call-name", call.caller_name);
  text("call-dialled", call.dialled);
  text("call-line", [call.original_number, call.line_name].filter(Boolean).join(" "));
  text("call-department", call.department);
  const queue = page.directory ? page.directory.queues.find((q) => q.id === call.queue) : null;
  text("call-queue", queue ? queue.name : call.queue);
  const path = (call.menu_path || []).map((step) => step.node + (step.keys ? "(" + step.keys + ")" : ""));
  text("call-menu", path.length ? path.join(" → ") : t("call.menu_none"));
  const tags = Object.entries(call.tags || {}).map(([k, v]) => (v === "1" ? k : k + "=" + v));
  text("call-tags", tags.join("，"));
  if (!before || before.call_id !== call.call_id) {
    $("call-repeat").textContent = "";
    $("call-history").replaceChildren();
    $("call-tickets").replaceChildren();
    $("call-title").focus();
    loadHistory(call.call_id);
  }
}

async function loadHistory(callId) {
  page.historyFor = callId;
  const result = await api("GET", "/api/calls/" + encodeURIComponent(callId) + "/history", page.token);
  if (result.status !== 200 || page.historyFor !== callId) return;
  const h = result.body;
  page.history = { callId, repeat: h.repeat_caller };
  const repeat = $("call-repeat");
  repeat.textContent = h.repeat_caller
    ? t("call.repeat", h.calls_in_window, h.window_hours)
    : t("call.first_time", h.window_hours);
  repeat.className = h.repeat_caller ? "repeat yes" : "repeat no";
  repeat.dataset.repeat = h.repeat_caller ? "1" : "0";
  const calls = h.calls.map((c) =>
    el("tr", {},
      el("td", { text: formatDateTime(c.arrived_at) }),
      el("td", { text: c.outcome ? t("outcome." + c.outcome) : "—" }),
      el("td", { text: c.department || "—" }),
      el("td", { text: c.first_agent || "—" }),
      el("td", { text: c.rating_label || "—" })));
  const historyNodes = [
    calls.length
      ? el("table", {},
          el("thead", {}, el("tr", {},
            ...["history.when", "history.outcome", "history.department", "history.agent",
              "history.rating"].map((k) => el("th", { text: t(k) })))),
          el("tbody", {}, ...calls))
      : el("p", { text: t("call.no_history") }),
  ];
  if (!h.complete) historyNodes.push(el("p", { class: "note", text: t("call.history_partial") }));
  $("call-history").replaceChildren(...historyNodes);
  const tickets = h.tickets.map((tk) =>
    el("tr", {},
      el("td", { text: formatDateTime(tk.created_at) }),
      el("td", { text: t("ticket.kind." + tk.kind) }),
      el("td", { text: t("ticket.status." + tk.status) }),
      el("td", { text: tk.backend_ticket_id || "—" })));
  $("call-tickets").replaceChildren(
    tickets.length
      ? el("table", {},
          el("thead", {}, el("tr", {},
            ...["history.when", "ticket.kind", "ticket.status", "ticket.id"].map((k) =>
              el("th", { text: t(k) })))),
          el("tbody", {}, ...tickets))
      : el("p", { text: t("call.no_history") }));
}

// ---------------------------------------------------------------- transfers

async function loadTransferOperations() {
  const result = await api("GET", "/api/openapi.json", null);
  page.transfers = {};
  if (result.status !== 200) return;
  for (const [path, item] of Object.entries(result.body.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if ((op["x-roles"] || []).includes("agent") && path.startsWith("/api/calls/{call_id}/")) {
        page.transfers[op.operationId] = { method: method.toUpperCase(), path };
      }
    }
  }
}

async function runTransfer(binding) {
  const [label, opId, body, params] = binding;
  const op = page.transfers[opId];
  if (!page.call) {
    say(t("transfer.no_call"));
    return;
  }
  let path = op.path.replace("{call_id}", encodeURIComponent(page.call.call_id));
  for (const [name, value] of Object.entries(params || {})) {
    path = path.replace("{" + name + "}", encodeURIComponent(value));
  }
  const result = await api(op.method, path, page.token, body);
  if (result.status === 200 || result.status === 201) say(t("transfer.started", label));
  else failed(result);
}

function targetButton(binding) {
  const button = el("button", { type: "button", onclick: () => runTransfer(binding) }, binding[0]);
  button.disabled = !(page.transfers && page.transfers[binding[1]]);
  button.dataset.op = binding[1];
  return button;
}

function targetList(id, items, bindings) {
  const list = $(id);
  list.replaceChildren();
  if (!items.length) {
    list.append(el("li", { text: t("transfer.none") }));
    return;
  }
  for (const item of items) {
    const buttons = bindings(item).map(targetButton);
    list.append(el("li", {}, el("span", { class: "target", text: item.label }), ...buttons));
  }
}

function renderTransferPanel() {
  const d = page.directory || { parallel: [], queues: [], colleagues: [], emergency: [] };
  const any = page.transfers && Object.keys(page.transfers).length > 0;
  $("transfer-note").textContent = any ? "" : t("transfer.unavailable");
  const b = transferBindings();
  targetList("tr-parallel",
    d.parallel.map((l) => ({ ...l, label: l.number + " " + l.name })), b.parallel);
  targetList("tr-queues", d.queues.map((q) => ({ ...q, label: q.name })), b.queue);
  targetList("tr-colleagues",
    d.colleagues.map((c) => ({ ...c, label: c.agent + " " + c.name })), b.colleague);
  targetList("tr-emergency",
    d.emergency.map((e) => ({ ...e, label: e.number + " " + e.name })), b.emergency);
  $("tr-call-actions").replaceChildren(...b.call().map(targetButton));
}

// Each button: [label, operationId (cti/api/transfers.py), body, path parameters].
// A button whose operation the server does not offer stays disabled.
function transferBindings() {
  const start = "call_transfer_start";
  const to = (mode, kind, ref) => ({ mode, target: { kind, ref } });
  const action = (name) => [t("transfer." + name), "call_transfer_action", undefined, { action: name }];
  return {
    parallel: (l) => [[t("transfer.three_way"), start, to("three_way", "line", l.id)]],
    queue: (q) => [[t("transfer.blind"), start, to("blind", "queue", q.id)]],
    colleague: (c) => [
      [t("transfer.blind"), start, to("blind", "agent", c.agent)],
      [t("transfer.consult"), start, to("attended", "agent", c.agent)],
    ],
    emergency: (e) => [
      [t("transfer.blind"), "call_emergency", { number: e.number, mode: "blind" }],
      [t("transfer.three_way"), "call_emergency", { number: e.number, mode: "three_way" }],
    ],
    call: () => [
      [t("transfer.hold"), "call_hold"],
      [t("transfer.unhold"), "call_unhold"],
      [t("transfer.mute"), "call_mute"],
      [t("transfer.unmute"), "call_unmute"],
      action("join"),
      action("complete"),
      action("leave"),
      action("cancel"),
    ],
  };
}

function openTransfer() {
  if (page.directory) {
    api("GET", "/api/agents/me/directory", page.token).then((result) => {
      if (result.status === 200) {
        page.directory = result.body;
        renderTransferPanel();
      }
    });
  }
  show("transfer", true);
  $("transfer-title").focus();
}

function closeTransfer() {
  show("transfer", false);
  $("btn-transfer").focus();
}

// ---------------------------------------------------------------- keyboard

function onKey(event) {
  if ($("desk").classList.contains("hidden")) return;
  const menuOpen = !$("pause-menu").classList.contains("hidden");
  if (callbackMenuKey(event)) return;
  if (menuOpen && /^[1-9]$/.test(event.key)) {
    const buttons = $("pause-reasons").querySelectorAll("button");
    const chosen = buttons[Number(event.key) - 1];
    if (chosen) {
      event.preventDefault();
      pause(chosen.dataset.reason);
    }
    return;
  }
  const keys = {
    F2: ready,
    F3: openPauseMenu,
    F4: endWrapup,
    F6: () => ($("transfer").classList.contains("hidden") ? openTransfer() : closeTransfer()),
    F7: toggleCallbacks,
    F9: logout,
    Escape: () => {
      if (menuOpen) closePauseMenu();
      else if (outbound.menuFor) closeCallbackMenu();
      else if (callbacksOpen()) closeCallbacks();
      else if (!$("transfer").classList.contains("hidden")) closeTransfer();
    },
  };
  const action = keys[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}

// ---------------------------------------------------------------- start

function start() {
  applyStrings(document);
  document.title = t("app.agent_title");
  $("login-form").addEventListener("submit", onLogin);
  $("btn-ready").addEventListener("click", ready);
  $("btn-pause").addEventListener("click", openPauseMenu);
  $("btn-wrapup").addEventListener("click", endWrapup);
  $("btn-transfer").addEventListener("click", openTransfer);
  $("btn-logout").addEventListener("click", logout);
  $("transfer-close").addEventListener("click", closeTransfer);
  $("btn-callbacks").addEventListener("click", toggleCallbacks);
  $("callbacks-close").addEventListener("click", closeCallbacks);
  $("dial-form").addEventListener("submit", dialNumber);
  document.addEventListener("keydown", onKey);
  setInterval(tick, 1000);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) startDesk(token);
  else showLogin("");
}

document.addEventListener("DOMContentLoaded", start);

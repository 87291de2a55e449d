// The supervisor console: calls, agents, queues and alarms, refreshed every second.
// A supervisor logs in with number and password; the token is kept for this tab only.
// Actions: listen / whisper / barge / stop on a call, force pause / logout of an agent,
// acknowledge an alarm; each by one click, or one key on the focused row.
"use strict";

const SV_KEY = "hotline.supervisor.session";
const CALL_KEYS = { l: "listen", w: "whisper", b: "barge", s: "stop" };
const AGENT_KEYS = { p: "pause", o: "logout" };
const state = { session: null, timer: null, focus: null, monitored: null };

function $(id) {
  return document.getElementById(id);
}

function say(text) {
  $("status").textContent = text;
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.session.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    signOut(t("sv.expired"));
    throw new Error(t("sv.expired"));
  }
  if (!response.ok) {
    let message = String(response.status);
    try {
      message = (await response.json()).message || message;
    } catch (_) {
      // not JSON
    }
    throw new Error(message);
  }
  return response.json();
}

function signOut(note) {
  sessionStorage.removeItem(SV_KEY);
  state.session = null;
  clearInterval(state.timer);
  $("console").classList.add("hidden");
  $("logout").classList.add("hidden");
  $("login-box").classList.remove("hidden");
  $("login-error").textContent = note || "";
  $("who").textContent = "";
  $("person").focus();
}

function signedIn() {
  $("login-box").classList.add("hidden");
  $("console").classList.remove("hidden");
  $("logout").classList.remove("hidden");
  $("who").textContent = `${state.session.person} ${state.session.name}`;
  if (!$("seat").value) $("seat").value = state.session.home_seat || "";
  refresh();
  state.timer = setInterval(refresh, 1000);
}

function seconds(s) {
  const n = Math.max(0, Math.round(s));
  return `${Math.floor(n / 60)}:${String(n % 60).padStart(2, "0")}`;
}

function button(label, onClick, op) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.op = op;
  b.addEventListener("click", (event) => {
    event.stopPropagation();
    onClick();
  });
  return b;
}

function row(cells, key, kind) {
  const tr = document.createElement("tr");
  tr.tabIndex = 0;
  tr.dataset.key = key;
  tr.dataset.kind = kind;
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell === null || cell === undefined ? "" : String(cell);
    tr.append(td);
  }
  tr.addEventListener("focus", () => {
    state.focus = { kind, key };
  });
  return tr;
}

function keep(tbody, rows) {
  const focused = state.focus;
  tbody.replaceChildren(...rows);
  if (focused) {
    const again = tbody.querySelector(`tr[data-kind="${focused.kind}"][data-key="${focused.key}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

async function callAction(callId, op) {
  try {
    if (op === "stop") {
      await api("DELETE", `/api/calls/${callId}/monitor`);
      state.monitored = null;
    } else {
      await api("POST", `/api/calls/${callId}/monitor`, { mode: op, seat: $("seat").value.trim() });
      state.monitored = callId;
    }
    say(t("sv.done", t(`sv.${op}`)));
  } catch (err) {
    say(t("sv.failed", err.message));
  }
}

async function agentAction(agent, op) {
  try {
    if (op === "pause") {
      await api("POST", `/api/supervisor/agents/${agent}/pause`, {
        reason: t("sv.force_reason"),
        pause_reason: "meeting",
      });
    } else {
      await api("POST", `/api/supervisor/agents/${agent}/logout`, { reason: t("sv.force_reason") });
    }
    say(t("sv.done", t(op === "pause" ? "sv.pause" : "sv.force_logout")));
  } catch (err) {
    say(t("sv.failed", err.message));
  }
}

async function acknowledge(id) {
  try {
    await api("POST", `/api/alarms/${id}/ack`, { note: "" });
    say(t("sv.done", t("sv.ack")));
  } catch (err) {
    say(t("sv.failed", err.message));
  }
}

function showCalls(calls) {
  const rows = calls.map((c) => {
    const ops = document.createElement("span");
    for (const op of ["listen", "whisper", "barge", "stop"]) {
      ops.append(button(t(`sv.${op}`), () => callAction(c.call_id, op), op));
    }
    const tr = row([c.caller, c.dialled, c.queue, c.agent, c.state, seconds(c.duration_s), ops],
      c.call_id, "call");
    tr.dataset.state = c.state;
    if (c.call_id === state.monitored) tr.classList.add("monitored");
    return tr;
  });
  keep($("calls").tBodies[0], rows);
}

function showAgents(agents) {
  const now = Date.now();
  const rows = agents
    .filter((a) => a.status !== "logged_out")
    .map((a) => {
      const ops = document.createElement("span");
      ops.append(button(t("sv.pause"), () => agentAction(a.agent, "pause"), "pause"));
      ops.append(button(t("sv.force_logout"), () => agentAction(a.agent, "logout"), "logout"));
      const since = a.since ? seconds((now - Date.parse(a.since)) / 1000) : "";
      const tr = row([a.agent, a.name, a.state, a.reason, since, ops], a.agent, "agent");
      tr.dataset.status = a.status;
      return tr;
    });
  keep($("agents").tBodies[0], rows);
}

function showBoard(board) {
  const rows = board.queues.map((q) =>
    row([q.name, q.waiting, seconds(q.longest_wait_s),
      q.today.connection_rate === null ? "—" : `${(q.today.connection_rate * 100).toFixed(1)}%`],
    q.id, "queue"));
  keep($("queues").tBodies[0], rows);
  const items = board.alarms.filter((a) => a.id > 0).map((a) => {
    const li = document.createElement("li");
    li.dataset.id = String(a.id);
    li.dataset.figure = a.figure;
    li.classList.add(a.level);
    li.textContent = `${a.scope} · ${a.message} `;
    if (a.acked_by) {
      li.classList.add("acked");
      li.append(t("sv.acked", a.acked_by));
    } else {
      li.append(button(t("sv.ack"), () => acknowledge(a.id), "ack"));
    }
    return li;
  });
  $("alarms").replaceChildren(...items);
}

async function refresh() {
  if (!state.session) return;
  try {
    const [calls, agents, board] = await Promise.all([
      api("GET", "/api/console/calls"),
      api("GET", "/api/supervisor/agents"),
      api("GET", "/api/wallboard"),
    ]);
    showCalls(calls);
    showAgents(agents);
    showBoard(board);
    document.body.dataset.refreshed = String(Date.now());
  } catch (err) {
    if (state.session) say(t("sv.failed", err.message));
  }
}

function onKey(event) {
  const tr = document.activeElement;
  if (!tr || tr.tagName !== "TR") return;
  const key = event.key.toLowerCase();
  if (tr.dataset.kind === "call" && CALL_KEYS[key]) {
    event.preventDefault();
    callAction(tr.dataset.key, CALL_KEYS[key]);
  } else if (tr.dataset.kind === "agent" && AGENT_KEYS[key]) {
    event.preventDefault();
    agentAction(tr.dataset.key, AGENT_KEYS[key]);
  }
}

function start() {
  applyStrings(document);
  document.title = t("app.supervisor_title");
  document.addEventListener("keydown", onKey);
  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { person: $("person").value.trim(), password: $("password").value };
    $("password").value = "";
    const response = await fetch("/api/persons/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      $("login-error").textContent = t("sv.login_failed");
      return;
    }
    state.session = await response.json();
    sessionStorage.setItem(SV_KEY, JSON.stringify(state.session));
    signedIn();
  });
  $("logout").addEventListener("click", async () => {
    try {
      await api("POST", "/api/persons/logout");
    } finally {
      signOut("");
    }
  });
  const kept = sessionStorage.getItem(SV_KEY);
  if (kept) {
    state.session = JSON.parse(kept);
    signedIn();
  } else {
    signOut("");
  }
}

document.addEventListener("DOMContentLoaded", start);

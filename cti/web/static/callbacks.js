// The toolbar's callback panel (漏接回拨), click-to-dial, and the work-order form opened
// on answer.  Keyboard: F7 opens or closes the panel; Tab moves between entries and their
// buttons, Enter presses one (Call on an entry I hold or on a return visit: my phone
// rings, then the citizen);
// in the skip-reason and outcome menus a digit chooses; the number field below the lists
// dials on Enter; Esc closes the open menu, then the panel.  Uses page, api(), act(),
// say() and show() of agent.js.
"use strict";

const outbound = {
  settings: null, // GET /api/agents/me/outbound
  entries: [],
  visits: [],
  menuFor: null, // { key, kind: "skip" | "outcome" }
  openedFor: null, // the call whose work-order form was opened
};

async function loadOutboundSettings() {
  const result = await api("GET", "/api/agents/me/outbound", page.token);
  outbound.settings = result.status === 200 ? result.body : null;
}

function callbacksOpen() {
  return !$("callbacks").classList.contains("hidden");
}

async function openCallbacks() {
  show("callbacks", true);
  $("callbacks-title").focus();
  await refreshCallbacks();
  const first = $("cb-list").querySelector("button");
  if (first) first.focus();
}

function closeCallbacks() {
  closeCallbackMenu(false);
  show("callbacks", false);
  $("btn-callbacks").focus();
}

function toggleCallbacks() {
  if (callbacksOpen()) closeCallbacks();
  else openCallbacks();
}

async function refreshCallbacks() {
  const result = await api("GET", "/api/callbacks?limit=50", page.token);
  if (result.status !== 200) {
    failed(result);
    return;
  }
  outbound.entries = result.body;
  renderCallbacks();
  const visits = await api("GET", "/api/return-visits?status=pending&limit=50", page.token);
  outbound.visits = visits.status === 200 ? visits.body : [];
  renderVisits();
}

// Return visits (回访) an agent makes: the ticket's summary, the window, Call (my phone
// rings, then the citizen; the call's end is the visit's attempt), Record result.
function renderVisits() {
  const list = $("rv-list");
  list.replaceChildren();
  if (!outbound.visits.length) {
    list.append(el("li", { text: t("rv.none") }));
    return;
  }
  for (const visit of outbound.visits) {
    list.append(el("li", { "data-ticket": visit.ticket_id },
      el("span", { class: "number", text: visit.number }),
      el("span", { class: "meta", text: t("rv.ticket", visit.ticket_id) + " · " +
        t("rv.window", formatDateTime(visit.due_from), formatDateTime(visit.due_until)) +
        (visit.person_required ? " · " + t("rv.person") : "") }),
      el("span", { class: "misses", text: visit.summary || "—" }),
      el("span", { class: "tries", text: t("cb.tries", visit.results.length) }),
      el("button", { type: "button", "data-act": "visit-call",
        onclick: () => callVisit(visit) }, t("rv.call")),
      el("button", { type: "button", "data-act": "visit-result", "aria-haspopup": "menu",
        onclick: () => openCallbackMenu(visit.ticket_id, "visit") }, t("cb.outcome"))));
  }
}

function missText(m) {
  return formatDateTime(m.at) + " " + m.line + " " + label("cb.reason.", m.reason);
}

function renderCallbacks() {
  const list = $("cb-list");
  list.replaceChildren();
  $("cb-count").textContent = t("cb.count", outbound.entries.length);
  if (!outbound.entries.length) {
    list.append(el("li", { text: t("cb.none") }));
    return;
  }
  const me = page.agent ? page.agent.agent : null;
  for (const entry of outbound.entries) {
    const mine = entry.claimed_by === me;
    const buttons = [];
    if (entry.status === "pending") {
      buttons.push(el("button", { type: "button", "data-act": "claim",
        onclick: () => changeEntry(entry.key, "claim") }, t("cb.claim")));
    }
    if (mine) {
      buttons.push(el("button", { type: "button", "data-act": "outcome", "aria-haspopup": "menu",
        onclick: () => openCallbackMenu(entry.key, "outcome") }, t("cb.outcome")));
      buttons.push(el("button", { type: "button", "data-act": "release",
        onclick: () => changeEntry(entry.key, "release") }, t("cb.release")));
    }
    const call = el("button", { type: "button", "data-act": "call",
      onclick: () => callEntry(entry) }, t("cb.call"));
    if (entry.status === "pending" || mine) {
      buttons.push(el("button", { type: "button", "data-act": "skip", "aria-haspopup": "menu",
        onclick: () => openCallbackMenu(entry.key, "skip") }, t("cb.skip")));
    }
    if (mine && entry.status === "claimed") buttons.push(call);
    const holder = entry.claimed_by ? " · " + t("cb.claimed_by", entry.claimed_by) : "";
    const item = el("li", { "data-key": entry.key, "data-status": entry.status,
        class: entry.overdue ? "overdue" : "" },
      el("span", { class: "number", text: entry.number }),
      el("span", { class: "meta", text: t("cb.deadline", formatTime(entry.deadline)) +
        (entry.overdue ? " · " + t("cb.overdue") : "") + holder }),
      el("span", { class: "misses", text: entry.misses.map(missText).join("；") }),
      el("span", { class: "tries", text: t("cb.tries", entry.attempts.length) }),
      ...buttons);
    list.append(item);
  }
}

// A configured code's text, or the code itself when the page has no text for it.
function label(prefix, value) {
  return Object.prototype.hasOwnProperty.call(STRINGS, prefix + value) ? t(prefix + value) : value;
}

function openCallbackMenu(key, kind) {
  const menu = $("cb-menu");
  const items = kind === "skip"
    ? (outbound.settings ? outbound.settings.skip_reasons : [])
    : (outbound.settings ? outbound.settings.outcomes : []);
  outbound.menuFor = { key, kind };
  $("cb-menu-title").textContent = t(kind === "skip" ? "cb.skip_title" : "cb.outcome_title");
  const prefix = kind === "skip" ? "cb.skip." : "cb.outcome.";
  const box = $("cb-menu-items");
  box.replaceChildren();
  items.slice(0, 9).forEach((value, i) => {
    box.append(el("button", { type: "button", role: "menuitem", "data-value": value,
      onclick: () => chooseCallbackMenu(value) },
      el("kbd", { text: String(i + 1) }), " " + label(prefix, value)));
  });
  show("cb-menu", true);
  const first = box.querySelector("button");
  if (first) first.focus();
}

function closeCallbackMenu(refocus = true) {
  const was = outbound.menuFor;
  outbound.menuFor = null;
  show("cb-menu", false);
  if (refocus && was) focusEntry(was.key);
}

async function chooseCallbackMenu(value) {
  const chosen = outbound.menuFor;
  if (!chosen) return;
  closeCallbackMenu(false);
  if (chosen.kind === "visit") {
    await recordVisit(chosen.key, value);
    return;
  }
  const body = chosen.kind === "skip" ? { reason: value } : { outcome: value };
  await changeEntry(chosen.key, chosen.kind, body);
}

async function recordVisit(ticket, outcome) {
  const path = "/api/return-visits/" + encodeURIComponent(ticket) + "/result";
  const visit = await act("POST", path, { outcome });
  if (visit) say(t("rv.done", ticket));
  await refreshCallbacks();
  focusEntry(ticket);
}

async function changeEntry(key, what, body) {
  const path = "/api/callbacks/" + encodeURIComponent(key) + "/" + what;
  const entry = await act("POST", path, body);
  if (!entry) {
    await refreshCallbacks();
    focusEntry(key);
    return;
  }
  say(t("cb.done." + what, entry.number));
  await refreshCallbacks();
  focusEntry(key);
}

// Preview's Call: my phone rings; once I answer, the citizen is dialled.
async function callEntry(entry) {
  const path = "/api/callbacks/" + encodeURIComponent(entry.key) + "/call";
  const started = await act("POST", path);
  if (started) say(t("cb.calling", entry.number));
  await refreshCallbacks();
  focusEntry(entry.key);
}

// A return visit's Call: my phone rings, then the citizen; the call is tied to the ticket.
async function callVisit(visit) {
  const path = "/api/return-visits/" + encodeURIComponent(visit.ticket_id) + "/call";
  const started = await act("POST", path);
  if (started) say(t("rv.calling", visit.ticket_id, started.number));
  await refreshCallbacks();
  focusEntry(visit.ticket_id);
}

// Click-to-dial: my phone rings; once I answer, the number is dialled.  A number the
// dial rules refuse is answered in one line (and audited).
async function dialNumber(event) {
  if (event) event.preventDefault();
  const field = $("dial-number");
  const number = field.value.trim();
  if (!number) {
    field.focus();
    return;
  }
  const started = await act("POST", "/api/agents/me/dial", { number });
  if (started) {
    say(t("dial.started", started.number, started.presented_number));
    field.value = "";
  }
  field.focus();
}

function focusEntry(key) {
  const items = [...$("cb-list").querySelectorAll("li"), ...$("rv-list").querySelectorAll("li")];
  const item = items.find((li) => li.dataset.key === key || li.dataset.ticket === key);
  const target = item ? item.querySelector("button") : $("cb-list").querySelector("button");
  (target || $("callbacks-title")).focus();
}

function callbackMenuKey(event) {
  if (!outbound.menuFor) return false;
  if (/^[1-9]$/.test(event.key)) {
    const buttons = $("cb-menu-items").querySelectorAll("button");
    const chosen = buttons[Number(event.key) - 1];
    if (chosen) {
      event.preventDefault();
      chooseCallbackMenu(chosen.dataset.value);
    }
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- the work-order form

function workOrderUrl(call, repeat) {
  const template = outbound.settings ? outbound.settings.work_order_url : null;
  if (!template) return null;
  const values = {
    call_id: call.call_id,
    caller: call.caller_number || "",
    line: call.original_number || call.dialled || "",
    department: call.department || "",
    repeat: repeat ? "1" : "0",
  };
  return template.replace(/\{(call_id|caller|line|department|repeat)\}/g,
    (_, name) => encodeURIComponent(values[name]));
}

// Called by renderCall when a call is shown; opens the form once the agent has answered.
async function onCallShown(call) {
  const link = $("call-work-order");
  if (!call) {
    outbound.openedFor = null;
    link.removeAttribute("href");
    show("call-work-order-row", false);
    return;
  }
  if (call.state !== "talking" || outbound.openedFor === call.call_id) return;
  outbound.openedFor = call.call_id;
  if (!page.history || page.history.callId !== call.call_id) await loadHistory(call.call_id);
  const repeat = page.history && page.history.callId === call.call_id && page.history.repeat;
  const url = workOrderUrl(call, repeat);
  if (!url) return;
  link.href = url;
  show("call-work-order-row", true);
  window.open(url, "hotline-work-order");
}

// The reports page: a period's figures as a table and a chart, downloads, the assessment sheet.
// The token is asked once and kept for this browser tab only (sessionStorage).
"use strict";

const RP_TOKEN_KEY = "hotline.reports.token";
const GROUPS = ["queue", "hour", "day", "skill", "agent", "line", "department", "kind"];
const SVG = "http://www.w3.org/2000/svg";

function $(id) {
  return document.getElementById(id);
}

function token() {
  return sessionStorage.getItem(RP_TOKEN_KEY);
}

function askToken(note) {
  $("token-box").classList.remove("hidden");
  $("reports").classList.add("hidden");
  $("token-error").textContent = note || "";
  $("token-input").focus();
}

async function call(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (response.status === 401 || response.status === 403) {
    sessionStorage.removeItem(RP_TOKEN_KEY);
    askToken(t("rp.token_bad"));
    throw new Error(t("rp.token_bad"));
  }
  if (!response.ok) {
    let message = String(response.status);
    try {
      message = (await response.json()).message || message;
    } catch (_) {
      // not JSON: the status says enough
    }
    throw new Error(message);
  }
  return response;
}

function period() {
  const q = new URLSearchParams({ from: $("from").value, to: $("to").value, by: $("by").value });
  return q.toString();
}

function shown(value, kind) {
  if (value === null || value === undefined) return "—";
  if (kind === "rate") return `${(value * 100).toFixed(2)}%`;
  if (kind === "seconds") return Number(value).toFixed(1);
  return String(value);
}

function cells(row, columns, tag) {
  const tr = document.createElement("tr");
  tr.dataset.key = row.key;
  for (const c of columns) {
    const td = document.createElement(tag);
    td.textContent = tag === "th" ? c.title : shown(row[c.name], c.kind);
    td.dataset.column = c.name;
    if (c.kind !== "text") td.classList.add("num");
    tr.append(td);
  }
  return tr;
}

function table(data) {
  const head = $("table").tHead;
  const body = $("table").tBodies[0];
  const foot = $("table").tFoot;
  head.replaceChildren(cells({}, data.columns, "th"));
  body.replaceChildren(...data.rows.map((row) => cells(row, data.columns, "td")));
  foot.replaceChildren(cells(data.total, data.columns, "td"));
}

function svg(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function chart(rows) {
  const box = $("chart");
  box.replaceChildren();
  const width = 1000;
  const height = 220;
  const top = Math.max(1, ...rows.map((r) => r.offered));
  const step = rows.length ? width / rows.length : width;
  const bar = Math.max(2, step * 0.35);
  const points = [];
  rows.forEach((row, i) => {
    const x = i * step + step * 0.1;
    const ho = (row.offered / top) * height;
    const ha = (row.answered / top) * height;
    box.append(svg("rect", { class: "bar offered", x, y: height - ho, width: bar, height: ho }));
    box.append(svg("rect", { class: "bar answered", x: x + bar, y: height - ha, width: bar,
      height: ha }));
    if (row.connection_rate !== null) {
      points.push(`${x + bar},${height - row.connection_rate * height}`);
    }
    box.append(svg("text", { x, y: height + 16 }, row.label || row.key));
  });
  if (points.length) box.append(svg("polyline", { class: "rate", points: points.join(" ") }));
}

async function run(event) {
  if (event) event.preventDefault();
  $("status").textContent = t("rp.loading");
  try {
    const data = await (await call(`/api/reports/figures?${period()}`)).json();
    table(data);
    chart(data.rows);
    $("status").textContent = data.rows.length ? "" : t("rp.empty");
    document.body.dataset.loaded = `${data.from}/${data.to}/${data.by}`;
  } catch (err) {
    $("status").textContent = t("rp.failed", err.message);
  }
}

async function download(path, name) {
  try {
    const blob = await (await call(path)).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (err) {
    $("status").textContent = t("rp.failed", err.message);
  }
}

async function sheetPage() {
  try {
    const html = await (await call(`/api/reports/assessment.html?month=${$("month").value}`)).text();
    const blob = new Blob([html], { type: "text/html" });
    window.open(URL.createObjectURL(blob), "_blank");
  } catch (err) {
    $("status").textContent = t("rp.failed", err.message);
  }
}

function start() {
  applyStrings(document);
  document.title = t("app.reports_title");
  for (const g of GROUPS) {
    const option = document.createElement("option");
    option.value = g;
    option.textContent = t(`rp.by.${g}`);
    $("by").append(option);
  }
  const today = new Date();
  const first = new Date(today.getFullYear(), today.getMonth(), 1);
  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  $("from").value = iso(first);
  $("to").value = iso(today);
  $("month").value = iso(first).slice(0, 7);
  $("query").addEventListener("submit", run);
  $("csv").addEventListener("click", () => download(`/api/reports/figures.csv?${period()}`, "report.csv"));
  $("xlsx").addEventListener("click", () => download(`/api/reports/figures.xlsx?${period()}`, "report.xlsx"));
  $("sheet-xlsx").addEventListener("click", () =>
    download(`/api/reports/assessment.xlsx?month=${$("month").value}`, `assessment-${$("month").value}.xlsx`));
  $("sheet-html").addEventListener("click", sheetPage);
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(RP_TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    $("token-box").classList.add("hidden");
    $("reports").classList.remove("hidden");
    $("from").focus();
  });
  if (token()) {
    $("reports").classList.remove("hidden");
  } else {
    askToken("");
  }
}

document.addEventListener("DOMContentLoaded", start);

"""A run's figures as text tables and as a self-contained HTML report with SVG charts.

The HTML report needs nothing from the network: its charts are inline SVG
drawn here, its style a few lines of CSS.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _occ(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


_HEAD = (
    f"{'':<14}{'offered':>8}{'answered':>9}{'abandon':>8}{'接通率':>8}{'≤15s':>8}"
    f"{'ASA':>6}{'avg':>6}{'p90':>6}{'callbk':>7}"
)


def _row(label: str, f: dict[str, Any]) -> str:
    return (
        f"{label:<14}{f['offered']:>8}{f['answered']:>9}{f['abandoned']:>8}"
        f"{_pct(f['connection_rate']):>9}{_pct(f['within_15s_rate']):>8}"
        f"{_s(f['asa_s']):>6}{_s(f['avg_wait_s']):>6}{_s(f['p90_wait_s']):>6}{f['callbacks']:>7}"
    )


def text(result: dict[str, Any], title: str) -> str:
    """The day's total, its queues and its intervals as plain-text tables."""
    total = result["total"]
    lines = [title, "", _HEAD, _row("total", total)]
    for queue, f in result["queues"].items():
        lines.append(_row(queue, f))
    lines.append(
        f"\noccupancy {_occ(total['occupancy'])}, {total['agent_hours']} agent-hours, "
        f"peak {total['peak_agents']} agents, average handle {_s(total['avg_handle_s'])} s, "
        f"satisfaction {_pct(total['satisfaction_rate'])}"
    )
    lines += ["", f"{'start':<7}{'agents':>6}{'occ':>6} " + _HEAD[14:].lstrip()]
    for i in result["intervals"]:
        if i["offered"] or i["agents"]:
            row = _row("", i)[14:]
            lines.append(f"{i['start']:<7}{i['agents']:>6}{_occ(i['occupancy']):>6} {row}")
    return "\n".join(lines)


def side_by_side(left: dict[str, Any], right: dict[str, Any], names: tuple[str, str]) -> str:
    """Two runs' totals and intervals next to each other (``--what-if``)."""
    a, b = left["total"], right["total"]
    keys = [
        ("offered", "offered", str),
        ("answered", "answered", str),
        ("abandoned", "abandoned", str),
        ("connection_rate", "接通率", _pct),
        ("within_15s_rate", "within 15 s", _pct),
        ("asa_s", "ASA s", _s),
        ("p90_wait_s", "p90 wait s", _s),
        ("callbacks", "callbacks", str),
        ("occupancy", "occupancy", _occ),
        ("agent_hours", "agent-hours", str),
        ("peak_agents", "peak agents", str),
    ]
    width = max(14, *(len(n) + 2 for n in names))
    lines = [f"{'':<14}{names[0]:>{width}}{names[1]:>{width}}"]
    for key, label, shown in keys:
        lines.append(f"{label:<14}{shown(a[key]):>{width}}{shown(b[key]):>{width}}")  # type: ignore[operator]
    lines += ["", f"{'start':<7}{'agents':>7}{'接通率':>9}{'agents':>9}{'接通率':>9}"]
    for x, y in zip(left["intervals"], right["intervals"], strict=True):
        if x["offered"] or y["offered"] or x["agents"] or y["agents"]:
            lines.append(
                f"{x['start']:<7}{x['agents']:>7}{_pct(x['connection_rate']):>10}"
                f"{y['agents']:>9}{_pct(y['connection_rate']):>10}"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML

_W, _H, _PAD = 860, 220, 40


def _svg(series: Sequence[tuple[str, Sequence[float | None], str, str]], unit: str) -> str:
    """A line/bar chart over the 96 intervals; each series is (name, values, colour, kind)."""
    top = max((v for _, vals, _, _ in series for v in vals if v is not None), default=0) or 1.0
    step = (_W - 2 * _PAD) / 96

    def x(i: float) -> float:
        return _PAD + i * step

    def y(v: float) -> float:
        return _H - _PAD + 10 - (v / top) * (_H - _PAD - 10)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img">',
        f'<line x1="{_PAD}" y1="{y(0):.1f}" x2="{_W - _PAD}" y2="{y(0):.1f}" stroke="#888"/>',
        f'<text x="4" y="{y(top) + 4:.1f}" font-size="11">{top:.0f}{unit}</text>',
        f'<text x="4" y="{y(0):.1f}" font-size="11">0</text>',
    ]
    for hour in range(0, 25, 3):
        parts.append(
            f'<text x="{x(hour * 4) - 10:.1f}" y="{_H - 8}" font-size="11">{hour:02d}:00</text>'
        )
    for n, (name, values, colour, kind) in enumerate(series):
        if kind == "bar":
            for i, v in enumerate(values):
                if v:
                    parts.append(
                        f'<rect x="{x(i):.1f}" y="{y(v):.1f}" width="{step * 0.8:.1f}" '
                        f'height="{y(0) - y(v):.1f}" fill="{colour}"><title>{v:.0f}</title></rect>'
                    )
        else:
            points = " ".join(
                f"{x(i + 0.5):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None
            )
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
            )
        parts.append(
            f'<text x="{_PAD + 10 + n * 160}" y="14" font-size="12" fill="{colour}">'
            f"{html.escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(result: dict[str, Any]) -> str:
    head = (
        "<tr><th>start</th><th>agents</th><th>offered</th><th>answered</th><th>abandoned</th>"
        "<th>接通率</th><th>≤15 s</th><th>ASA s</th><th>p90 wait s</th><th>occupancy</th>"
        "<th>callbacks</th></tr>"
    )
    rows = []
    for i in result["intervals"]:
        if not (i["offered"] or i["agents"]):
            continue
        rows.append(
            f"<tr><td>{i['start']}</td><td>{i['agents']}</td><td>{i['offered']}</td>"
            f"<td>{i['answered']}</td><td>{i['abandoned']}</td>"
            f"<td>{_pct(i['connection_rate'])}</td><td>{_pct(i['within_15s_rate'])}</td>"
            f"<td>{_s(i['asa_s'])}</td><td>{_s(i['p90_wait_s'])}</td>"
            f"<td>{_occ(i['occupancy'])}</td><td>{i['callbacks']}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _totals(result: dict[str, Any]) -> str:
    t = result["total"]
    cells = [
        ("offered", t["offered"]),
        ("answered", t["answered"]),
        ("abandoned", t["abandoned"]),
        ("接通率", _pct(t["connection_rate"])),
        ("answered within 15 s", _pct(t["within_15s_rate"])),
        ("ASA", f"{_s(t['asa_s'])} s"),
        ("p90 wait", f"{_s(t['p90_wait_s'])} s"),
        ("occupancy", _occ(t["occupancy"])),
        ("callbacks", t["callbacks"]),
        ("agent-hours", t["agent_hours"]),
    ]
    return "".join(
        f'<div class="kpi"><b>{html.escape(str(v))}</b><span>{k}</span></div>' for k, v in cells
    )


def html_report(title: str, runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """The report of one run or of several side by side (``--what-if``)."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    colours = ["#1f6fb2", "#d9480f", "#2b8a3e"]
    if len(runs) > 1:
        body.append("<h2>Staffing compared</h2>")
        body.append(
            _svg(
                [
                    (name, [i["agents"] for i in r["intervals"]], colours[n % 3], "line")
                    for n, (name, r) in enumerate(runs)
                ],
                "",
            )
        )
    for name, result in runs:
        iv = result["intervals"]
        body += [
            f"<h2>{html.escape(name)}</h2>",
            f'<div class="kpis">{_totals(result)}</div>',
            "<h3>Arrivals per 15 minutes and agents on shift</h3>",
            _svg(
                [
                    ("offered calls", [i["offered"] for i in iv], "#9ec5e8", "bar"),
                    ("agents on shift", [i["agents"] for i in iv], "#d9480f", "line"),
                ],
                "",
            ),
            "<h3>Waits (seconds)</h3>",
            _svg(
                [
                    ("average wait", [i["avg_wait_s"] for i in iv], "#1f6fb2", "line"),
                    ("90th percentile", [i["p90_wait_s"] for i in iv], "#d9480f", "line"),
                ],
                " s",
            ),
            "<h3>接通率 and answered within 15 s (%)</h3>",
            _svg(
                [
                    (
                        "接通率",
                        [
                            None if i["connection_rate"] is None else i["connection_rate"] * 100
                            for i in iv
                        ],
                        "#2b8a3e",
                        "line",
                    ),
                    (
                        "within 15 s",
                        [
                            None if i["within_15s_rate"] is None else i["within_15s_rate"] * 100
                            for i in iv
                        ],
                        "#1f6fb2",
                        "line",
                    ),
                ],
                "%",
            ),
            "<h3>Intervals</h3>",
            _table(result),
        ]
    style = (
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        ".kpis{display:flex;flex-wrap:wrap;gap:8px}.kpi{border:1px solid #ccc;padding:6px 10px}"
        ".kpi b{display:block;font-size:20px}.kpi span{font-size:12px;color:#555}"
    )
    return (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )

"""The engine's pages: the agent toolbar (``/agent``), the wallboard (``/wallboard``), reports.

``/reports`` asks for a supervisor's, administrator's or quality inspector's
token, keeps it for the browser tab only (``sessionStorage``), and shows a
period's figures as a table and a chart, with CSV / Excel downloads and the
monthly assessment sheet.  ``/supervisor`` is the supervisor console: a
supervisor logs in with number and password (a token in their name, kept for
the tab only) and sees and acts on calls, agents, queues and alarms.

Plain HTML, CSS and JavaScript served from this package: no build step and
nothing fetched from elsewhere.  Every text the pages show is in
``static/strings.js`` (Chinese); the pages hold none of their own.  The
pages carry no data: they call the API and open the live sockets with the
token the user gives (the agent's login, or the wallboard token in the
address fragment ``/wallboard#token=...``, which never reaches the server
or its logs).  Both pages keep their token in ``sessionStorage``: it ends
with the browser tab, and is never written to disk for the next user of the
machine.  The page policy lets scripts connect to this origin only (its
WebSockets included) and sends no ``Referer`` anywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
PAGES = {
    "/agent": "agent.html",
    "/wallboard": "wallboard.html",
    "/reports": "reports.html",
    "/supervisor": "supervisor.html",
}
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    ),
}


def _serve(path: Path) -> web.Response:
    kind = TYPES[path.suffix]
    return web.Response(body=path.read_bytes(), content_type=kind, charset="utf-8", headers=HEADERS)


def _page(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return _serve(HERE / name)

    return handler


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or path.suffix not in TYPES or not path.is_file():
        raise web.HTTPNotFound()
    return _serve(path)


def add_routes(app: web.Application) -> None:
    for route, name in PAGES.items():
        app.router.add_get(route, _page(name))
    app.router.add_get("/static/{name}", static_file)

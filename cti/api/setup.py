"""Wiring of the faces onto the engine's application (see :func:`install`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti import web as pages
from cti.api import (
    admin,
    agents,
    console,
    figures,
    history,
    live,
    metrics,
    nodes,
    outbound,
    persons,
    reports,
    supervisor,
    visits,
)
from cti.api.described import describe_others
from cti.api.openapi import document
from cti.api.spec import Operation, register
from cti.api.tracker import TRACKER, Tracker
from cti.appkeys import RECORDINGS

TITLE = "hotline-cti"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hotline-cti")
    except PackageNotFoundError:
        return "0"


_DOCUMENT = web.AppKey("openapi_document", dict)


async def openapi_json(request: web.Request) -> web.Response:
    """The document, built on first use (routes do not change once the app runs)."""
    cache = request.app[_DOCUMENT]
    if "doc" not in cache:
        cache["doc"] = document(request.app, title=TITLE, version=_version())
    return web.json_response(cache["doc"])


def install(app: web.Application) -> None:
    """Register every endpoint, the live publisher and the pages on ``app``.

    Needs ``cti.api.agents.ENGINE`` and, for the parts that use them, the
    database, writer, outbox and recording service keys of ``cti.app``.
    """
    tracker = Tracker()
    app[TRACKER] = tracker
    app[_DOCUMENT] = {}

    recordings = app.get(RECORDINGS)
    if recordings is not None:
        earlier = recordings.on_alarm

        def on_alarm(alarm: Any) -> None:
            tracker.on_recording_alarm(alarm)
            if earlier is not None:
                earlier(alarm)

        recordings.on_alarm = on_alarm
    agents.add_routes(app)
    history.add_routes(app)
    supervisor.add_routes(app)
    outbound.add_routes(app)
    visits.add_routes(app)
    admin.add_routes(app)
    figures.add_routes(app)
    live.add_routes(app)
    metrics.add_routes(app)
    nodes.add_routes(app)
    reports.add_routes(app)
    persons.add_routes(app)
    console.add_routes(app)
    describe_others(app)
    register(
        app,
        Operation(
            "GET",
            "/api/openapi.json",
            openapi_json,
            "openapi",
            "This document",
            "public",
            response_schema={"type": "object"},
        ),
    )
    pages.add_routes(app)

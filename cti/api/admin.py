"""Administrator endpoints: validate and reload the configuration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from cti.api.auth import Role
from cti.api.http import principal
from cti.config import ConfigManager, check_config


def _manager(request: web.Request) -> ConfigManager:
    from cti.app import CONFIG

    return request.app[CONFIG]


def _issues(issues: Any) -> list[str]:
    return [str(issue) for issue in issues]


async def validate(request: web.Request) -> web.Response:
    principal(request, Role.ADMIN)
    result = check_config(_manager(request).directory)
    return web.json_response(
        {"valid": result.config is not None, "issues": _issues(result.issues)},
        status=200,
    )


async def reload(request: web.Request) -> web.Response:
    who = principal(request, Role.ADMIN)
    manager = _manager(request)
    result = await manager.areload(f"admin:{who.id}")
    from cti.app import WRITER

    request.app[WRITER].submit(
        "audit",
        {
            "at": datetime.now(UTC),
            "actor": who.id,
            "role": who.role.value,
            "action": "config_reload",
            "target": result.candidate_digest or result.current.digest,
            "allowed": result.status != "refused",
            "detail": {"status": result.status},
        },
    )
    body = {
        "status": result.status,
        "version": {
            "digest": result.current.digest,
            "loaded_at": result.current.loaded_at.isoformat(),
            "requested_by": result.current.requested_by,
            "summary": result.current.summary,
        },
        "issues": _issues(result.issues),
    }
    return web.json_response(body, status=422 if result.status == "refused" else 200)


async def versions(request: web.Request) -> web.Response:
    principal(request, Role.ADMIN)
    return web.json_response(
        [
            {
                "digest": v.digest,
                "loaded_at": v.loaded_at.isoformat(),
                "requested_by": v.requested_by,
                "summary": v.summary,
            }
            for v in _manager(request).history
        ]
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/admin/config/validate", validate)
    app.router.add_post("/api/admin/config/reload", reload)
    app.router.add_get("/api/admin/config/versions", versions)

"""Supervisors log in as persons: their number and PIN from ``agents.yaml``.

``POST /api/persons/login`` takes ``{"person": "1001", "password": "..."}``,
checks the password against the person's ``pin_hash`` (PBKDF2, as agents'
PINs) and, when the person's ``role`` is ``supervisor``, returns a session
token for the supervisor role named ``"<number> <name>"``: every audited
action taken with it names the person.  ``POST /api/persons/logout`` ends the
session (``{"ended": true}``).  A failed login is a 401 that does not say which part was wrong.

The login check is one function (:func:`check_login`) over the guarded PIN
check every login path shares (:func:`cti.api.agents.checked_pin`): the
throttle of failed logins per person and per address, the PIN-check threads
and the audit of refusals.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cti.api import schemas as s
from cti.api.agents import ENGINE, checked_pin
from cti.api.auth import Role
from cti.api.http import AUTH, body_of, principal
from cti.api.spec import Operation, register, reply

ROLES = {"supervisor": Role.SUPERVISOR}


class PersonLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = Field(pattern=s.AGENT_NO, description="the person's number in agents.yaml")
    password: str = Field(min_length=1, max_length=64)


class PersonSession(BaseModel):
    token: str
    expires_at: float
    person: str
    name: str
    role: str
    home_seat: str | None


async def check_login(request: web.Request, body: PersonLogin) -> tuple[str, Role] | web.Response:
    """``(principal name, role)`` when the person exists, holds a console role and the
    password matches; otherwise the answer to give (401, or 429 when throttled: see
    :func:`cti.api.agents.checked_pin`)."""
    person = request.app[ENGINE].config.agent(body.person)
    console = person is not None and person.role in ROLES
    refused = await checked_pin(
        request,
        f"person:{body.person}",
        body.password,
        person.pin_hash if person is not None and console else None,
        action="person_login",
    )
    if refused is not None:
        return refused
    assert person is not None
    return f"{person.number} {person.name}", ROLES[person.role]


async def login(request: web.Request) -> web.Response:
    body = await body_of(request, PersonLogin)
    found = await check_login(request, body)
    if isinstance(found, web.Response):
        return found
    name, role = found
    token, expires = request.app[AUTH].open_person_session(name, role)
    person = request.app[ENGINE].config.agent(body.person)
    assert person is not None
    return reply(
        PersonSession(
            token=token,
            expires_at=expires,
            person=person.number,
            name=person.name,
            role=role.value,
            home_seat=person.home_seat,
        )
    )


async def logout(request: web.Request) -> web.Response:
    principal(request, *ROLES.values())
    header = request.headers.get("Authorization", "")
    request.app[AUTH].close_person_session(header.partition(" ")[2].strip())
    return web.json_response({"ended": True})


def add_routes(app: web.Application) -> None:
    register(
        app,
        Operation(
            "POST",
            "/api/persons/login",
            login,
            "person_login",
            "A supervisor logs in with number and password; a token in their name",
            "supervisor",
            body=PersonLogin,
            response=PersonSession,
            errors=(401, 429),
        ),
    )
    register(
        app,
        Operation(
            "POST",
            "/api/persons/logout",
            logout,
            "person_logout",
            "End this supervisor session",
            "supervisor",
            tuple(ROLES.values()),
            response_schema={
                "type": "object",
                "required": ["ended"],
                "properties": {"ended": {"type": "boolean"}},
            },
        ),
    )

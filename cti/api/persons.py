"""Supervisors log in as persons: their number and PIN from ``agents.yaml``.

``POST /api/persons/login`` takes ``{"person": "1001", "password": "..."}``,
checks the password against the person's ``pin_hash`` (PBKDF2, as agents'
PINs) and, when the person's ``role`` is ``supervisor``, returns a session
token for the supervisor role named ``"<number> <name>"``: every audited
action taken with it names the person.  ``POST /api/persons/logout`` ends the
session (``{"ended": true}``).  A failed login is a 401 that does not say which part was wrong.

Logins are throttled per person and per client address, and the password is
checked on the PIN verifier's threads, as agents' are (:mod:`cti.api.logins`).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cti.api import schemas as s
from cti.api.agents import ENGINE
from cti.api.auth import Role
from cti.api.http import AUTH, body_of, principal
from cti.api.logins import check_pin
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


async def login(request: web.Request) -> web.Response:
    body = await body_of(request, PersonLogin)
    config = request.app[ENGINE].config
    person = config.agent(body.person)
    console = person if person is not None and person.role in ROLES else None
    known = config.agents.agents
    # Throttled and hashed as agents' logins are (cti.api.logins).
    refused_login = await check_pin(
        request,
        "person_login",
        f"person:{body.person}",
        body.password,
        console.pin_hash if console is not None else None,
        like=known[0].pin_hash if known else None,
        wrong="unknown person or wrong password",
    )
    if refused_login is not None:
        return refused_login
    assert console is not None
    name, role = f"{console.number} {console.name}", ROLES[console.role]
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
            errors=(401,),
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

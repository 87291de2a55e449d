"""``engine.yaml``: where the engine connects and listens; never a secret.

Passwords, secrets and tokens are named by the environment variable that
holds them (``password_env: HOTLINE_ARI_PASSWORD``); the YAML never contains
the values, so it can be committed and shown.  :meth:`EngineFile.secret_envs`
lists every variable a deployment must set.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AnyHttpUrl, Field, Strict, StringConstraints, model_validator

from cti.config.types import (
    DialPattern,
    EnvVarName,
    Ident,
    Int,
    PositiveSeconds,
    Section,
    Text,
)

Host = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:_-]{1,253}$")]
Port = Annotated[Int, Field(ge=1, le=65_535)]


class Ari(Section):
    url: AnyHttpUrl = Field(description="ARI base URL, e.g. http://127.0.0.1:8088/ari")
    app: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = Field(
        description="Stasis application name (dialplan: Stasis(APP,inbound,${EXTEN}))"
    )
    user: Text
    password_env: EnvVarName
    requests_in_flight: Annotated[Int, Field(ge=1, le=1000)] = Field(
        default=64,
        description="how many ARI requests the engine has under way at once; when more wait,"
        " those of the oldest calls go first, so that a burst of arrivals does not hold up"
        " the calls in progress",
    )


class Ami(Section):
    host: Host
    port: Port = 5038
    user: Text
    secret_env: EnvVarName
    ping_interval: PositiveSeconds = Field(default=20, description="seconds between AMI Pings")


class Http(Section):
    host: Host
    port: Port


class Outbound(Section):
    trunk: Ident = Field(description="the carrier trunk's PJSIP endpoint name")
    dial_pattern: DialPattern = Field(description="e.g. PJSIP/{number}@carrier")
    caller_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{3,20}$")] | None = Field(
        default=None, description="number presented on outbound legs (default: main number)"
    )
    originate_timeout: Annotated[Int, Field(ge=5, le=120)] = Field(
        default=30, description="seconds a three-way / callback leg may ring"
    )


class Recordings(Section):
    directory: Annotated[str, StringConstraints(pattern=r"^/[^\x00]*$")] = Field(
        description="absolute path where the engine keeps its copies"
    )
    format: Annotated[str, StringConstraints(pattern=r"^(wav|gsm|ulaw|alaw|sln)$")] = "wav"
    retention_months: Annotated[Int, Field(ge=1, le=120)]


RetrySeconds = Annotated[float, Strict(), Field(gt=0, le=86_400)]
"""A backoff duration in seconds, fractions allowed: more than 0, at most a day."""


class TicketRetry(Section):
    """How the engine spaces its attempts at a ticket the backend does not accept yet.

    After the n-th failed attempt (5xx, 408/425/429, timeout, connection
    refused) the ticket waits a random time between 0 and
    ``min(cap, initial * 2 ** (n - 1))`` (exponential backoff with full
    jitter), and is retried until the backend accepts it.  ``cap`` is also
    the longest a ticket waits after the backend comes back.
    """

    initial: RetrySeconds = Field(
        default=1,
        description="seconds: the longest wait after the first failed attempt; doubles after"
        " each further failure until it reaches cap",
    )
    cap: RetrySeconds = Field(
        default=300,
        description="seconds: the longest wait between two attempts, however long the"
        " backend stays down (also the longest delay after it recovers); at least initial",
    )

    @model_validator(mode="after")
    def _ordered(self) -> TicketRetry:
        if self.cap < self.initial:
            raise ValueError(
                f"need initial <= cap (got initial {self.initial:g}, cap {self.cap:g})"
            )
        return self


class Tickets(Section):
    url: AnyHttpUrl = Field(description="work-order backend; the engine POSTs {url}/tickets")
    token_env: EnvVarName | None = Field(default=None, description="bearer token variable")
    timeout: PositiveSeconds = Field(default=10, description="seconds one POST may take")
    retry: TicketRetry = Field(
        default_factory=TicketRetry,
        description="backoff between attempts while the backend refuses or is unreachable",
    )


class Database(Section):
    dsn_env: EnvVarName = Field(description="variable holding the PostgreSQL DSN")


class Threshold(Section):
    """A figure turns amber, then red, as it crosses these values."""

    amber: Annotated[float, Strict(), Field(ge=0)]
    red: Annotated[float, Strict(), Field(ge=0)]


class Wallboard(Section):
    """Alarm thresholds (风险预警)."""

    connection_rate: Threshold = Field(description="接通率 below amber/red (e.g. 0.95 / 0.90)")
    connection_rate_min_offered: Annotated[Int, Field(ge=0)] = Field(
        default=20,
        description="calls offered today (centre, or queue) before the connection rate is"
        " judged: the first caller of the day still waiting is not a 0 % rate",
    )
    waiting_callers: Threshold = Field(description="callers waiting above amber/red")
    longest_wait: Threshold = Field(description="longest wait seconds above amber/red")
    refresh_seconds: PositiveSeconds = 2
    calendar_warning_days: Annotated[Int, Field(ge=0, le=366)] = Field(
        default=60,
        description="`hotline check-config` warns when the holiday calendar (calendar.yaml)"
        " covers fewer days ahead than this",
    )
    calendar_alarm_days: Annotated[Int, Field(ge=0, le=366)] = Field(
        default=30,
        description="the wallboard raises an alarm (and /metrics shows"
        " hotline_calendar_days_covered) when the calendar covers fewer days ahead than this",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Wallboard:
        rate = self.connection_rate
        if not (0.0 <= rate.red <= rate.amber <= 1.0):
            raise ValueError("connection_rate: need 0 <= red <= amber <= 1 (lower is worse)")
        for name in ("waiting_callers", "longest_wait"):
            level: Threshold = getattr(self, name)
            if not (0 <= level.amber <= level.red):
                raise ValueError(f"{name}: need 0 <= amber <= red (higher is worse)")
        return self


_Rate = Annotated[float, Strict(), Field(ge=0, le=1)]


class Assessment(Section):
    """The monthly assessment sheet's targets (``hotline report --month``): red where missed."""

    connection_rate: _Rate = Field(default=0.90, description="接通率 at least this")
    answer_rate_sl: _Rate = Field(default=0.80, description="人工应答及时率 at least this")
    satisfaction_rate: _Rate = Field(default=0.90, description="满意率 at least this")
    abandon_rate: _Rate = Field(default=0.10, description="放弃率 at most this")
    callback_deadline_hours: Annotated[Int, Field(ge=1, le=720)] = Field(
        default=24, description="a missed call is called back within this many hours to count"
    )


class Throttle(Section):
    """Failed logins allowed in a window before further attempts are refused for a while."""

    failures: Annotated[Int, Field(ge=1, le=10_000)] = Field(
        description="failed attempts within window_seconds that start a lock-out"
    )
    window_seconds: PositiveSeconds = Field(description="how far back failures count")
    lockout_seconds: PositiveSeconds = Field(
        description="how long attempts are refused (429 with Retry-After) once locked"
    )


def _account_throttle() -> Throttle:
    return Throttle(failures=5, window_seconds=900, lockout_seconds=900)


def _address_throttle() -> Throttle:
    return Throttle(failures=200, window_seconds=900, lockout_seconds=900)


class Security(Section):
    """Limits that protect the engine's HTTP faces from guessing and floods."""

    login_per_account: Throttle = Field(
        default_factory=_account_throttle,
        description="failed logins per agent (or person) before a lock-out; a correct PIN"
        " during the lock-out is refused too",
    )
    login_per_address: Throttle = Field(
        default_factory=_address_throttle,
        description="failed logins and wrong bearer tokens per client address before a"
        " lock-out (a call centre behind one address needs room for honest typos and"
        " for the stale tokens of every toolbar after an engine restart)",
    )
    pin_hash_workers: Annotated[Int, Field(ge=1, le=16)] = Field(
        default=1, description="threads that check PINs, apart from every other work"
    )
    pin_hash_nice: Annotated[Int, Field(ge=0, le=19)] = Field(
        default=5,
        description="how far below the engine's other threads PIN checks run (Linux nice"
        " steps): when CPU is short, logins wait rather than calls and recordings",
    )
    pin_hash_queue: Annotated[Int, Field(ge=1, le=10_000)] = Field(
        default=64,
        description="PIN checks that may wait for a thread (a whole shift logging in at"
        " once); more at once are answered 429",
    )
    json_max_bytes: Annotated[Int, Field(ge=1024, le=64 * 1024 * 1024)] = Field(
        default=1024 * 1024, description="largest request body; larger ones are answered 413"
    )
    json_max_depth: Annotated[Int, Field(ge=2, le=200)] = Field(
        default=32, description="deepest nesting of arrays and objects in a JSON body"
    )
    header_timeout_seconds: PositiveSeconds = Field(
        default=15,
        description="a connection that has not sent a whole request head within this time"
        " (or stays idle this long between requests) is closed",
    )
    connections_per_address: Annotated[Int, Field(ge=1, le=100_000)] = Field(
        default=256, description="open connections one client address may hold at once"
    )
    socket_auth_seconds: PositiveSeconds = Field(
        default=5,
        description="time a live socket opened without a token has to send its auth message",
    )
    anonymous_audit_per_minute: Annotated[Int, Field(ge=1, le=100_000)] = Field(
        default=120,
        description="audit rows written per minute for requests without a valid token;"
        " the rest are counted in the next row written",
    )
    anonymous_audit_text: Annotated[Int, Field(ge=16, le=4096)] = Field(
        default=128, description="longest text kept from a request without a valid token"
    )


class Availability(Section):
    """A standby engine (``docs/deploy.md``, "A standby engine"): engines sharing one
    PostgreSQL take a lease there, and only its holder drives the ARI application."""

    lease_seconds: Annotated[float, Strict(), Field(gt=0.5, le=300)] = Field(
        default=3,
        description="an active engine that has not renewed its lease for this long is"
        " taken over by a standby",
    )
    renew_seconds: Annotated[float, Strict(), Field(gt=0.05, le=100)] = Field(
        default=1,
        description="how often the active engine renews the lease, and a standby asks for it",
    )

    @model_validator(mode="after")
    def _renew_well_within_lease(self) -> Availability:
        if self.renew_seconds * 2 > self.lease_seconds:
            raise ValueError("renew_seconds must be at most half of lease_seconds")
        return self


NodeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")]


def node_env(prefix: str, name: str) -> str:
    """The environment variable named after a node: ``prefix`` + ``_`` + its name, upper case."""
    return f"{prefix}_{name.upper().replace('-', '_')}"


class Node(Section):
    """One Asterisk node of several (``docs/deploy.md``, "Several Asterisk nodes").

    The ARI user and application and the AMI user are the ``ari:`` and
    ``ami:`` sections'; the secrets are read from ``password_env`` and
    ``secret_env``, by default ``HOTLINE_ARI_PASSWORD_<NAME>`` and
    ``HOTLINE_AMI_SECRET_<NAME>`` (the name upper case, ``-`` as ``_``).
    """

    name: NodeName
    ari_url: AnyHttpUrl = Field(description="the node's ARI base URL")
    ami_host: Host
    ami_port: Port = 5038
    password_env: EnvVarName | None = Field(
        default=None, description="default HOTLINE_ARI_PASSWORD_<NAME>"
    )
    secret_env: EnvVarName | None = Field(
        default=None, description="default HOTLINE_AMI_SECRET_<NAME>"
    )

    @property
    def ari_password_env(self) -> str:
        return self.password_env or node_env("HOTLINE_ARI_PASSWORD", self.name)

    @property
    def ami_secret_env(self) -> str:
        return self.secret_env or node_env("HOTLINE_AMI_SECRET", self.name)


class EngineFile(Section):
    """Content of ``engine.yaml``."""

    ari: Ari
    ami: Ami
    http: Http
    outbound: Outbound
    recordings: Recordings
    tickets: Tickets
    database: Database
    wallboard: Wallboard
    assessment: Assessment = Field(default_factory=Assessment)
    security: Security = Field(
        default_factory=Security, description="login throttling and request limits"
    )
    node: Text | None = Field(default=None, description="this engine's name in logs")
    availability: Availability | None = Field(
        default=None,
        description="run as one of several engines, one active and the others standing by"
        " (absent: a single engine)",
    )

    nodes: tuple[Node, ...] = Field(
        default=(),
        description="the Asterisk nodes, when there are several (absent: one node, the"
        " ari: url and ami: host and port)",
    )
    node_lost_after: Annotated[float, Strict(), Field(gt=0, le=600)] = Field(
        default=10,
        description="seconds a node's ARI link may stay lost before the node is marked"
        " down and its calls end as node_lost",
    )

    @model_validator(mode="after")
    def _nodes_named_once(self) -> EngineFile:
        names = [node.name for node in self.nodes]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"nodes: {', '.join(twice)} listed twice")
        return self

    def secret_envs(self) -> tuple[str, ...]:
        """Every environment variable this deployment reads a secret from."""
        if self.nodes:
            per_node = [
                n for node in self.nodes for n in (node.ari_password_env, node.ami_secret_env)
            ]
        else:
            per_node = [self.ari.password_env, self.ami.secret_env]
        names = [*per_node, self.database.dsn_env]
        if self.tickets.token_env is not None:
            names.append(self.tickets.token_env)
        return tuple(names)

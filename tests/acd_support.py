"""A minimal shell for driving the ACD in tests: a clock, timers and a command log.

``Shell`` does what ``cti`` does for the ACD, without I/O: it keeps the
timers the ACD starts and fires them in time order when the clock moves
(``advance``), and it remembers which agent legs are ringing or answered.
Nothing of the ACD is replaced; tests read its commands and its views.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from acd import (
    Acd,
    AcdConfig,
    AgentConfig,
    AgentId,
    AgentLogin,
    CallConnected,
    CallerArrived,
    CallId,
    CancelOffer,
    CancelTimer,
    Command,
    ConnectCall,
    Event,
    OfferAnswered,
    OfferCall,
    QueueConfig,
    QueueId,
    RelaxStep,
    SeatId,
    Selector,
    Skill,
    SkillRequirement,
    StartTimer,
    TimerFired,
    TimerKey,
)

C = TypeVar("C")


def agent(agent_id: str, skills: Mapping[str, int] | None = None, **kw: object) -> AgentConfig:
    """An agent with ``skills`` (default: ``general`` at level 5)."""
    have = {Skill(k): v for k, v in (skills or {"general": 5}).items()}
    return AgentConfig(AgentId(agent_id), skills=have, **kw)  # type: ignore[arg-type]


def queue(
    queue_id: str,
    skills: Mapping[str, int] | None = None,
    relax: Mapping[str, list[tuple[float, int]]] | None = None,
    **kw: object,
) -> QueueConfig:
    """A queue requiring ``skills`` (default: ``general`` at level 1) with relaxation steps."""
    need = skills if skills is not None else {"general": 1}
    steps = relax or {}
    reqs = tuple(
        SkillRequirement(
            Skill(s), level, tuple(RelaxStep(after, lvl) for after, lvl in steps.get(s, []))
        )
        for s, level in need.items()
    )
    return QueueConfig(QueueId(queue_id), skills=reqs, **kw)  # type: ignore[arg-type]


class Shell:
    """Drives one ``Acd`` through a virtual clock, as the engine's shell would."""

    def __init__(self, config: AcdConfig, selector: Selector | None = None) -> None:
        self.acd = Acd(config, selector=selector)
        self.now = 0.0
        self.timers: dict[TimerKey, float] = {}
        self.log: list[Command] = []
        self.ringing: set[tuple[str, str]] = set()

    def send(self, event: Event, now: float | None = None) -> list[Command]:
        """Handle ``event`` at ``now`` (default: the current time; never earlier)."""
        if now is not None:
            assert now >= self.now, "time goes forward"
            self.now = now
        out = self.acd.handle(event, self.now)
        self._track(out)
        return out

    def _track(self, out: list[Command]) -> None:
        self.log.extend(out)
        for cmd in out:
            if isinstance(cmd, StartTimer):
                self.timers[cmd.key] = cmd.at
            elif isinstance(cmd, CancelTimer):
                self.timers.pop(cmd.key, None)
            elif isinstance(cmd, OfferCall):
                self.ringing.add((cmd.call_id, cmd.agent))
            elif isinstance(cmd, (CancelOffer, ConnectCall)):
                self.ringing.discard((cmd.call_id, cmd.agent))

    def advance(self, to: float) -> list[Command]:
        """Move the clock to ``to``, firing every due timer in time order on the way."""
        out: list[Command] = []
        while True:
            due = [(at, str(key), key) for key, at in self.timers.items() if at <= to]
            if not due:
                break
            at, _, key = min(due)
            del self.timers[key]
            self.now = max(self.now, at)
            got = self.acd.handle(TimerFired(key, at), self.now)
            self._track(got)
            out.extend(got)
        self.now = max(self.now, to)
        return out

    def login(self, *agents: str) -> list[Command]:
        out: list[Command] = []
        for a in agents:
            out += self.send(AgentLogin(AgentId(a), SeatId(f"seat-{a}")))
        return out

    def arrive(
        self, call: str, queue_id: str = "q", number: str = "", **kw: object
    ) -> list[Command]:
        ev = CallerArrived(CallId(call), QueueId(queue_id), number, **kw)  # type: ignore[arg-type]
        return self.send(ev)

    def answer(self, call: str, agent_id: str) -> list[Command]:
        """The agent's leg answers and the shell bridges it."""
        out = self.send(OfferAnswered(CallId(call), AgentId(agent_id)))
        assert ConnectCall(CallId(call), AgentId(agent_id), SeatId(f"seat-{agent_id}")) in out
        return out + self.send(CallConnected(CallId(call), AgentId(agent_id)))


def of_type(commands: Iterable[Command], kind: type[C]) -> list[C]:
    """The commands of one type, in order."""
    return [c for c in commands if isinstance(c, kind)]


def offered_to(commands: Iterable[Command], call: str | None = None) -> list[str]:
    """The agents offered a call (optionally one call), in order."""
    return [o.agent for o in of_type(commands, OfferCall) if call is None or o.call_id == call]

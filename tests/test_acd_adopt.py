"""Adopting conversations that were in progress when the ACD started (an engine restart)."""

from __future__ import annotations

import pytest

from acd import (
    AcdConfig,
    AgentId,
    AgentState,
    CallAdopted,
    CallEnded,
    CallerArrived,
    CallerLeft,
    CallId,
    LeaveReason,
    OfferCall,
    QueueId,
)
from tests.acd_support import Shell, agent, queue

pytestmark = pytest.mark.acd


def _shell() -> Shell:
    config = AcdConfig(
        queues=(queue("general", {"general": 1}, wrapup_s=10.0),),
        agents=(agent("a1", {"general": 5}), agent("a2", {"general": 5})),
    )
    shell = Shell(config)
    shell.login("a1", "a2")
    return shell


def test_an_adopted_call_holds_its_agent_and_ends_into_wrap_up() -> None:
    shell = _shell()
    shell.send(CallAdopted(CallId("c1"), QueueId("general"), AgentId("a1"), "138", 5.0, 60.0))
    view = shell.acd.agent_view(AgentId("a1"))
    assert view is not None and view.state is AgentState.ON_CALL and view.call_id == "c1"
    # A new caller goes to the other agent, never to the one on the adopted call.
    out = shell.send(CallerArrived(CallId("c2"), QueueId("general")))
    offers = [c for c in out if isinstance(c, OfferCall)]
    assert [o.agent for o in offers] == ["a2"]
    out = shell.send(CallEnded(CallId("c1")))
    assert any(isinstance(c, CallerLeft) and c.reason is LeaveReason.COMPLETED for c in out)
    view = shell.acd.agent_view(AgentId("a1"))
    assert view is not None and view.state is AgentState.WRAPUP
    figures = shell.acd.agent_figures(AgentId("a1"), shell.now)
    assert figures.busy_s >= 0


def test_adoption_is_refused_for_an_unknown_agent_or_a_busy_one() -> None:
    shell = _shell()
    out = shell.send(CallAdopted(CallId("c1"), QueueId("general"), AgentId("nobody")))
    assert [c.reason for c in out if isinstance(c, CallerLeft)] == [LeaveReason.REFUSED]
    shell.send(CallAdopted(CallId("c2"), QueueId("general"), AgentId("a1")))
    out = shell.send(CallAdopted(CallId("c3"), QueueId("general"), AgentId("a1")))
    assert [c.reason for c in out if isinstance(c, CallerLeft)] == [LeaveReason.REFUSED]
    totals = shell.acd.totals()
    assert totals.connected == 1

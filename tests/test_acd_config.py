"""Configuration: validation on construction, and live changes that lose nobody."""

from __future__ import annotations

import dataclasses

import pytest

from acd import (
    AcdConfig,
    AgentId,
    AgentLogin,
    AgentState,
    CallEnded,
    CallerLeft,
    CallId,
    ConfigChanged,
    ConfigError,
    LeaveReason,
    OverflowAction,
    OverflowRule,
    PauseReason,
    Phase,
    QueueId,
    RelaxStep,
    RequestRefused,
    SeatId,
    Skill,
    SkillRequirement,
    Strategy,
)
from tests.acd_support import Shell, agent, offered_to, queue

pytestmark = pytest.mark.acd


@pytest.mark.parametrize(
    ("config", "where"),
    [
        (lambda: AcdConfig(queues=(queue("q"), queue("q"))), "queues[1].id"),
        (lambda: AcdConfig(agents=(agent("a"), agent("a"))), "agents[1].id"),
        (lambda: AcdConfig(agents=(agent("a", {"x": 11}),)), "agents[0].skills.x"),
        (lambda: AcdConfig(queues=(queue("q", {"x": 0}),)), "queues[0].skills[0].min_level"),
        (
            lambda: AcdConfig(queues=(queue("q", {"x": 5}, relax={"x": [(20, 3), (10, 1)]}),)),
            "queues[0].skills[0].relax[1].after_s",
        ),
        (
            lambda: AcdConfig(queues=(queue("q", {"x": 5}, relax={"x": [(20, 6)]}),)),
            "queues[0].skills[0].relax[0].min_level",
        ),
        (lambda: AcdConfig(queues=(queue("q", ring_timeout_s=0),)), "queues[0].ring_timeout_s"),
        (lambda: AcdConfig(queues=(queue("q", max_wait_s=-1),)), "queues[0].max_wait_s"),
        (lambda: AcdConfig(queues=(queue("q", max_length=0),)), "queues[0].max_length"),
        (
            lambda: AcdConfig(queues=(queue("q", rona_pause_reason="nap"),)),
            "queues[0].rona_pause_reason",
        ),
        (
            lambda: AcdConfig(
                queues=(queue("q", overflow=OverflowRule(OverflowAction.QUEUE, "nowhere")),)
            ),
            "queues[0].overflow.target",
        ),
        (lambda: AcdConfig(pause_reasons=(PauseReason("x"), PauseReason("x"))), "pause_reasons[1]"),
        (lambda: AcdConfig(bucket_s=0), "bucket_s"),
    ],
)
def test_inconsistent_configuration_is_refused_with_its_place(config, where: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        config()
    assert info.value.where.startswith(where)


def test_general_and_specialist_desks_are_just_configuration() -> None:
    general = queue("12345", {"general": 1})
    consumer = queue("12315", {"consumer": 6}, relax={"consumer": [(30, 3)]})
    cfg = AcdConfig(queues=(general, consumer), agents=(agent("a", {"general": 5, "consumer": 7}),))
    s = Shell(cfg)
    s.login("a")
    assert offered_to(s.arrive("c1", "12315")) == ["a"]


def test_config_change_keeps_waiting_callers_and_matches_new_agents() -> None:
    base = AcdConfig(queues=(queue("q", {"tax": 5}),), agents=(agent("a1", {"tax": 3}),))
    s = Shell(base)
    s.login("a1")
    s.arrive("c1")
    assert offered_to(s.log) == []
    relaxed = dataclasses.replace(base, queues=(queue("q", {"tax": 3}),))
    out = s.send(ConfigChanged(relaxed), now=5)
    assert offered_to(out) == ["a1"]
    view = s.acd.call_view(CallId("c1"))
    assert view is not None and view.phase is Phase.OFFERED and view.queued_at == 0


def test_config_change_keeps_relaxation_progress_by_waiting_time() -> None:
    base = AcdConfig(queues=(queue("q", {"tax": 5}),), agents=(agent("a1", {"tax": 1}),))
    s = Shell(base)
    s.login("a1")
    s.arrive("c1")
    s.advance(50)
    stepped = dataclasses.replace(base, queues=(queue("q", {"tax": 5}, relax={"tax": [(40, 1)]}),))
    out = s.send(ConfigChanged(stepped))
    assert offered_to(out) == ["a1"], "c1 has waited 50 s: the new 40 s step applies at once"


def test_removed_queue_is_retired_until_its_callers_are_gone() -> None:
    two = AcdConfig(queues=(queue("old"), queue("new")), agents=(agent("a1"),))
    s = Shell(two)
    s.arrive("c1", "old")
    s.send(ConfigChanged(dataclasses.replace(two, queues=(queue("new"),))), now=1)
    view = s.acd.queue_view(QueueId("old"), 1)
    assert view is not None and view.retired and view.waiting == 1
    assert s.arrive("c2", "old") == [CallerLeft(CallId("c2"), QueueId("old"), LeaveReason.REFUSED)]
    out = s.login("a1")
    assert offered_to(out) == ["a1"], "the retired queue's caller is still served"
    s.answer("c1", "a1")
    s.send(CallEnded(CallId("c1")), now=30)
    assert s.acd.queue_view(QueueId("old"), 30) is None


def test_removed_agent_is_logged_out_but_its_call_goes_on() -> None:
    two = AcdConfig(queues=(queue("q", wrapup_s=5),), agents=(agent("a1"), agent("a2")))
    s = Shell(two)
    s.login("a1", "a2")
    s.arrive("c1")
    s.answer("c1", "a1")
    s.send(ConfigChanged(dataclasses.replace(two, agents=(agent("a2"),))), now=3)
    view = s.acd.agent_view(AgentId("a1"))
    assert view is not None and view.state is AgentState.ON_CALL
    s.send(CallEnded(CallId("c1")), now=40)
    view = s.acd.agent_view(AgentId("a1"))
    assert view is not None and view.state is AgentState.OFFLINE and view.seat is None
    assert s.send(AgentLogin(AgentId("a1"), SeatId("x"))) == [
        RequestRefused(AgentId("a1"), "AgentLogin", "unknown_agent")
    ]


def test_removed_agent_ringing_gives_the_call_back() -> None:
    two = AcdConfig(queues=(queue("q"),), agents=(agent("a1"), agent("a2")))
    s = Shell(two)
    s.login("a1")
    s.arrive("c1")
    s.login("a2")
    out = s.send(ConfigChanged(dataclasses.replace(two, agents=(agent("a2"),))), now=3)
    assert offered_to(out) == ["a2"]


def test_strategy_change_applies_to_the_next_choice() -> None:
    cfg = AcdConfig(
        queues=(queue("q", {"x": 1}, wrapup_s=0),),
        agents=(agent("a1", {"x": 2}), agent("a2", {"x": 9})),
    )
    s = Shell(cfg)
    s.login("a1", "a2")
    ordered = dataclasses.replace(
        cfg,
        queues=(
            dataclasses.replace(
                cfg.queues[0],
                strategy=Strategy.ORDERED,
                skills=(SkillRequirement(Skill("x"), 1, (RelaxStep(5, 1),)),),
            ),
        ),
    )
    s.send(ConfigChanged(ordered), now=1)
    assert offered_to(s.arrive("c1")) == ["a2"]


def test_config_change_with_fewer_stages_during_a_conversation() -> None:
    stepped = AcdConfig(
        queues=(queue("q", {"x": 5}, relax={"x": [(5, 3), (10, 1)]}), queue("r")),
        agents=(agent("a1", {"x": 1, "general": 1}), agent("a2", {"general": 1})),
    )
    s = Shell(stepped)
    s.login("a1")
    s.arrive("c1")
    s.advance(10)
    s.answer("c1", "a1")
    s.send(ConfigChanged(dataclasses.replace(stepped, queues=(queue("q", {"x": 1}), queue("r")))))
    view = s.acd.call_view(CallId("c1"))
    assert view is not None and view.stage == 0
    from acd import CallTransferredToQueue

    s.send(CallTransferredToQueue(CallId("c1"), QueueId("q")), now=20)
    assert offered_to(s.login("a2")) == []  # a2 lacks skill x


def test_shortened_maximum_wait_overflows_callers_already_past_it() -> None:
    long_wait = AcdConfig(queues=(queue("q", max_wait_s=100),))
    s = Shell(long_wait)
    s.arrive("c1")
    s.advance(50)
    out = s.send(ConfigChanged(AcdConfig(queues=(queue("q", max_wait_s=30),))))
    assert out[-1] == CallerLeft(CallId("c1"), QueueId("q"), LeaveReason.OVERFLOWED)

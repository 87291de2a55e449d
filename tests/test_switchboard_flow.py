"""The inbound flow, transition by transition, in virtual time (switchboard.sim)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import acd
import switchboard as sb
from switchboard.sim import AgentScript, CallerScript, Simulation
from tests.switchboard_support import (
    DIRECT,
    MAIN,
    MENU,
    MERGED,
    START,
    WITHDRAWN,
    acd_config,
    flow_config,
    switchboard,
)

pytestmark = pytest.mark.switchboard


def sim_with(*agents: tuple[str, AgentScript | None], **queue: object) -> Simulation:
    sim = Simulation(switchboard(**queue), start=START)
    for agent, script in agents:
        sim.login(agent, f"s{agent}", script)
    return sim


def kinds(sim: Simulation) -> list[str]:
    return [row.kind for row in sim.timeline]


def only_final(sim: Simulation) -> sb.WriteFinal:
    assert len(sim.finals) == 1
    (finals,) = sim.finals.values()
    assert len(finals) == 1
    return finals[0]


def assert_quiet(sim: Simulation) -> None:
    """Nothing is left of the ended calls: no call timer, playback, bridge or live leg."""
    assert not sim.board.calls()
    assert not [k for k in sim.timers if isinstance(k, sb.CallTimer)]
    assert not sim.playbacks
    assert not [b for b, members in sim.bridges.items() if members]
    assert not [ch for ch in sim.channels.values() if not ch.gone and ch.agent]


def test_the_agent_is_rung_first_when_the_route_allows() -> None:
    sim = sim_with(("1001", None))
    board = sim.board
    arrival = sb.CallerArrived(sb.CallId("c-a"), sb.ChannelId("ch-a"), DIRECT, "13900000000")
    commands = board.handle(arrival, START)
    assert isinstance(commands[0], sb.OriginateAgent)
    assert commands[0].variables == (("HOTLINE_CALL_ID", "c-a"), ("HOTLINE_AGENT", "1001"))
    assert not any(isinstance(c, sb.ReadRedirecting) for c in commands)
    names = [type(c).__name__ for c in commands]
    assert names.index("SetChannelVar") > names.index("OriginateAgent")
    assert "Answer" in names and "StartMoh" in names


def test_an_arrival_without_the_redirecting_number_reads_it_first() -> None:
    board = switchboard()
    channel = sb.ChannelId("ch-b")
    arrival = sb.CallerArrived(sb.CallId("c-b"), channel, MAIN, redirecting=None)
    commands = board.handle(arrival, START)
    assert sb.ReadRedirecting(sb.CallId("c-b"), channel) in commands
    assert not any(isinstance(c, sb.Answer) for c in commands)
    call = board.call(sb.CallId("c-b"))
    assert call is not None and call.phase is sb.CallPhase.ARRIVED
    commands = board.handle(sb.RedirectingRead(channel, MERGED), START + 0.01)
    assert sb.Answer(sb.CallId("c-b"), channel) in commands
    assert call.facts.original_number == MERGED
    assert call.facts.department == "housing" and call.facts.tags["department"] == "housing"
    assert call.phase is sb.CallPhase.ANNOUNCING


def test_a_forwarded_call_takes_the_route_of_the_merged_line_and_a_key_skips_it() -> None:
    sim = sim_with(("1001", AgentScript(answer_after_s=2, talk_s=30)))
    caller = sim.call(CallerScript(MAIN, redirecting=MERGED, keys=((0.5, "5"),)))
    sim.run_until(START + 1)
    assert "announcement_skipped" in kinds(sim)
    sim.run_until(START + 300)
    final = only_final(sim)
    assert final.record.route == "housing" and final.record.original_number == MERGED
    assert final.record.outcome == "answered" and final.ticket is not None
    assert final.ticket.department == "housing"
    assert sim.channels[caller].gone
    assert_quiet(sim)


@pytest.mark.parametrize(
    ("dialled", "outcome"), [(WITHDRAWN, "withdrawn"), ("99999999", "not_in_service")]
)
def test_a_number_without_a_queue_hears_its_announcement_and_is_released(
    dialled: str, outcome: str
) -> None:
    sim = sim_with()
    sim.call(CallerScript(dialled))
    sim.run_until(START + 60)
    final = only_final(sim)
    assert final.record.outcome == outcome
    assert final.record.hangup_by == "engine"
    assert final.ticket is None and final.rating is None
    assert_quiet(sim)


def test_menu_key_1_queues_with_the_menus_tag_and_path() -> None:
    sim = sim_with(("1001", AgentScript(answer_after_s=1, talk_s=20)))
    sim.call(CallerScript(MENU, keys=((1.0, "1"),), rating_key="2"))
    sim.run_until(START + 200)
    final = only_final(sim)
    record = final.record
    assert record.tags.get("menu") == "1"
    assert [step.result for step in record.menu_path][-1] == "queue"
    assert record.menu_exited_at is not None
    assert record.rating == 2 and final.rating is not None and final.rating.label == "基本满意"
    assert_quiet(sim)


def test_menu_key_2_records_a_voicemail_ticket() -> None:
    sim = sim_with()
    sim.call(CallerScript(MENU, keys=((1.0, "2"),)))
    sim.run_until(START + 100)
    final = only_final(sim)
    assert final.record.outcome == "voicemail"
    assert final.ticket is not None and final.ticket.kind == "voicemail"
    assert final.record.recording_ref == "vm-c-1"
    assert_quiet(sim)


def test_menu_key_9_says_goodbye_and_hangs_up() -> None:
    sim = sim_with()
    sim.call(CallerScript(MENU, keys=((1.0, "9"),)))
    sim.run_until(START + 60)
    final = only_final(sim)
    assert final.record.outcome == "ivr_hangup" and final.ticket is None
    assert_quiet(sim)


def test_ring_no_answer_reoffers_to_the_next_agent() -> None:
    sim = sim_with(
        ("1001", AgentScript(answer_after_s=None)),
        ("1002", AgentScript(answer_after_s=2, talk_s=10)),
    )
    sim.call(CallerScript(DIRECT))
    sim.run_until(START + 200)
    final = only_final(sim)
    assert "offer_no_answer" in kinds(sim)
    assert final.record.first_agent == "1002" and final.record.outcome == "answered"
    assert [o.agent for o in sim.originated][:2] == ["1001", "1002"]
    assert_quiet(sim)


def test_a_busy_phone_is_rejected_and_the_call_goes_on() -> None:
    sim = sim_with(("1001", AgentScript(busy=True)), ("1002", AgentScript(talk_s=5)))
    sim.call(CallerScript(DIRECT))
    sim.run_until(START + 100)
    assert "offer_busy" in kinds(sim)
    assert only_final(sim).record.last_agent == "1002"
    assert_quiet(sim)


def test_the_caller_abandons_while_the_agent_rings() -> None:
    sim = sim_with(("1001", None))
    caller = sim.call(CallerScript(DIRECT))
    sim.settle()
    (leg,) = sim.ringing_legs()
    sim.hang_up(caller)
    sim.settle()
    final = only_final(sim)
    assert final.record.outcome == "abandoned" and final.record.hangup_by == "caller"
    assert sim.channels[leg.id].gone
    assert_quiet(sim)
    # The leg answering afterwards is hung up at once.
    commands = sim.board.handle(
        sb.AgentLegAnswered(leg.id, leg.call_id, acd.AgentId("1001")), sim.now
    )
    assert commands == [sb.HangUp(leg.call_id, leg.id, "normal")]


def test_the_caller_hangs_up_in_the_conversation() -> None:
    sim = sim_with(("1001", AgentScript(answer_after_s=1, talk_s=500)))
    sim.call(CallerScript(DIRECT, hangs_up_first=True, talk_s=40))
    sim.run_until(START + 100)
    final = only_final(sim)
    assert final.record.outcome == "answered" and final.record.hangup_by == "caller"
    assert final.rating is not None and final.rating.label == "not_rated"
    assert final.ticket is not None and final.ticket.agents == ("1001",)
    assert_quiet(sim)


def test_a_waiting_caller_hears_its_position_then_music_again() -> None:
    sim = sim_with()
    caller = sim.call(CallerScript(DIRECT))
    sim.run_until(START + 31)
    assert sim.playbacks and not sim.channels[caller].moh
    sim.run_until(START + 40)
    assert not sim.playbacks and sim.channels[caller].moh


def test_max_wait_puts_the_caller_on_the_callback_list() -> None:
    sim = sim_with(max_wait_s=20.0, overflow=acd.OverflowRule(acd.OverflowAction.CALLBACK))
    sim.call(CallerScript(DIRECT))
    sim.run_until(START + 60)
    final = only_final(sim)
    assert final.record.outcome == "callback" and final.ticket is not None
    assert [cb.queue for cb in sim.callbacks] == ["general"]
    assert "callback_listed" in kinds(sim)
    assert_quiet(sim)


def test_calls_end_as_pbx_restart_when_asterisk_restarted() -> None:
    sim = sim_with(("1001", AgentScript(answer_after_s=1, talk_s=500)))
    caller = sim.call(CallerScript(DIRECT))
    sim.run_until(START + 10)
    leg = sim.originated[0].leg
    sim.feed(sb.ChannelsVanished(frozenset({caller, leg}), pbx_restarted=True))
    final = only_final(sim)
    assert final.record.end_reason == "pbx_restart" and final.record.hangup_by == "pbx"


def test_a_reload_changes_new_calls_only() -> None:
    sim = sim_with()
    sim.call(CallerScript(DIRECT, patience_s=30))
    sim.run_until(START + 1)
    sim.feed(sb.ConfigLoaded(replace(flow_config(), version="v2"), acd_config()))
    sim.call(CallerScript(DIRECT, patience_s=30))
    sim.run_until(START + 100)
    versions = {cid: f[0].record.config_version for cid, f in sim.finals.items()}
    assert versions == {"c-1": "v1", "c-2": "v2"}


def test_an_illegal_move_raises() -> None:
    sim = sim_with()
    sim.call(CallerScript(DIRECT))
    sim.settle()
    (call,) = sim.board.calls()
    with pytest.raises(sb.IllegalTransition):
        call.facts.move(sb.CallPhase.SURVEY, sim.now)


def test_a_busy_hour_replays_in_virtual_time() -> None:
    import random

    rng = random.Random(16)
    sim = sim_with(
        *(
            (a, AgentScript(answer_after_s=rng.uniform(1, 20), talk_s=rng.uniform(60, 240)))
            for a in ("1001", "1002", "1003")
        ),
        max_wait_s=300.0,
        overflow=acd.OverflowRule(acd.OverflowAction.CALLBACK),
    )
    for i in range(120):
        number = rng.choice([DIRECT, MAIN, MERGED, MENU])
        keys = ((rng.uniform(0.5, 3), rng.choice("129")),) if number == MENU else ()
        sim.call(
            CallerScript(
                number,
                number=f"1390000{i:04d}",
                patience_s=rng.uniform(20, 400),
                keys=keys,
                rating_key=rng.choice(["1", "2", "3", None]),
                hangs_up_first=rng.random() < 0.3,
                talk_s=rng.uniform(30, 200),
            ),
            at=START + i * 30.0,
        )
    while sim.step():
        pass
    assert len(sim.finals) == 120 and all(len(f) == 1 for f in sim.finals.values())
    outcomes = sim.board.figures.outcomes
    assert sum(outcomes.values()) == 120
    assert outcomes.get("answered", 0) > 0 and outcomes.get("abandoned", 0) > 0
    totals = sim.board.distributor.totals()
    assert totals.answered == sum(
        1 for (f,) in sim.finals.values() if f.record.answered_at is not None
    )
    assert_quiet(sim)


def test_ring_all_connects_the_first_to_answer_and_hangs_up_the_others() -> None:
    sim = sim_with(("1001", None), ("1002", None), ("1003", None), strategy=acd.Strategy.RING_ALL)
    sim.call(CallerScript(DIRECT))
    sim.settle()
    legs = sorted(ch.id for ch in sim.ringing_legs())
    assert len(legs) == 3
    sim.answer_leg(legs[1])
    sim.settle()
    assert [ch.id for ch in sim.channels.values() if ch.agent and not ch.gone] == [legs[1]]
    (call,) = sim.board.calls()
    assert call.phase is sb.CallPhase.CONNECTED and call.facts.agent == "1002"
    assert kinds(sim).count("offer_cancelled") == 2


@pytest.mark.parametrize(
    ("rule", "outcome"),
    [
        (acd.OverflowRule(acd.OverflowAction.VOICEMAIL), "voicemail"),
        (acd.OverflowRule(acd.OverflowAction.PROMPT_HANGUP, "sorry_busy"), "overflowed"),
    ],
)
def test_overflow_by_maximum_wait(rule: acd.OverflowRule, outcome: str) -> None:
    sim = sim_with(max_wait_s=20.0, overflow=rule)
    sim.call(CallerScript(DIRECT))
    sim.run_until(START + 200)
    final = only_final(sim)
    assert final.record.outcome == outcome
    assert "overflow" in kinds(sim)
    assert_quiet(sim)


def test_an_agent_who_pauses_while_rung_is_not_excluded_and_the_leg_goes() -> None:
    sim = sim_with(("1001", None))
    sim.call(CallerScript(DIRECT))
    sim.settle()
    (leg,) = sim.ringing_legs()
    sim.request(acd.AgentPause(acd.AgentId("1001"), "rona"))
    sim.settle()
    assert sim.channels[leg.id].gone
    assert "offer_cancelled" in kinds(sim)
    sim.request(acd.AgentReady(acd.AgentId("1001")))
    sim.settle()
    assert [ch.agent for ch in sim.ringing_legs()] == ["1001"]


def test_an_agent_is_rung_again_only_after_the_previous_leg_is_hung_up() -> None:
    sim = sim_with(("1001", None))
    first = sim.call(CallerScript(DIRECT))
    sim.call(CallerScript(DIRECT))
    sim.settle()
    (leg,) = sim.ringing_legs()
    commands = sim.board.handle(sb.ChannelLeft(first, 16), sim.now)
    names = [(type(c).__name__, getattr(c, "call_id", "")) for c in commands]
    hang_up = names.index(("HangUp", "c-1"))
    ring = names.index(("OriginateAgent", "c-2"))
    assert hang_up < ring
    assert commands[hang_up] == sb.HangUp(sb.CallId("c-1"), leg.id, "normal")

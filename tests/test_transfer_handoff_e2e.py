"""Blind transfers to a queue and to 110, a colleague taking a call over, hold and mute,
and supervisors whispering then barging in, end to end over real sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import acd
from pbxsim import CallerScript, PhoneScript, RemoteScript
from switchboard import CallPhase
from tests.support.stack import running_stack
from tests.transfer_support import (
    CALLER,
    PATCHES,
    assert_handle_time,
    connected_call,
    first,
    handled,
    members,
    rows,
)

pytestmark = pytest.mark.transfer

AGENT_PHONE = PhoneScript("8001", answer_after=0.3)
SECOND_PHONE = PhoneScript("8002", answer_after=0.3)
SUPERVISOR_PHONE = PhoneScript("8037", answer_after=0.2)
SUPERVISOR_TOKEN = "sup-secret-token"


async def test_blind_transfer_to_another_queue_keeps_the_waiting_time(
    tmp_path: Path, empty_dsn: str
) -> None:
    async with running_stack(
        tmp_path, empty_dsn, phones=[AGENT_PHONE, SECOND_PHONE], patches=PATCHES
    ) as stack:
        engine = stack.engine
        handle = stack.sim.place_call(CallerScript(CALLER))
        # The caller waits in 综合座席 before anyone logs in.
        waiting = await stack.sim.wait_for(
            lambda: next(iter(engine.acd.call_views()), None), what="a waiting caller"
        )
        call_id = waiting.call_id
        call, _, token = await connected_call(stack, "1003", "s01", None)
        assert call.call_id == call_id
        connected_view = engine.acd.call_view(acd.CallId(call_id))
        assert connected_view is None or connected_view.since == waiting.since
        await stack.login("1004", "s02")  # 疑难诉求专席: senior 7

        path = f"/api/calls/{call_id}/transfer"
        body = {"mode": "blind", "target": {"kind": "queue", "ref": "senior"}}
        status, started = await stack.api("POST", path, token=token, json=body)
        assert status == 201 and started["state"] == "queued", started
        moved = engine.acd.call_view(acd.CallId(call_id))
        assert moved is not None and moved.queue == "senior"
        assert moved.since == waiting.since, "the caller keeps its place by waiting time"
        assert moved.priority == waiting.priority
        assert "1003" in moved.excluded
        assert handled(stack, "1003").handled == 1, "the first agent's handle time has ended"

        def second_agent() -> bool:
            return call.agent == "1004" and call.phase is CallPhase.CONNECTED

        await stack.sim.wait_for(second_agent, timeout=10, what="the senior desk answers")
        assert engine.transfers.latest(call_id).outcome.value == "completed"
        await engine.drain()
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        row = await stack.call_row(ended.call_id)
        assert row["queue"] == "senior"
        assert (row["first_agent"], row["last_agent"]) == ("1003", "1004")
        timeline = await rows(stack, call_id)
        kinds = [r["kind"] for r in timeline]
        kinds = kinds[kinds.index("answered") :]
        order = ["answered", "transfer_started", "agent_left", "queued", "answered"]
        order += ["leg_ended", "caller_hangup", "ended"]
        assert [k for k in kinds if k in order] == order, kinds
        queued = [r for r in timeline if r["kind"] == "queued"][1]
        assert queued["detail"] == {"queue": "senior", "transferred": True}
        record = first(timeline, "leg_ended")["detail"]
        assert (record["kind"], record["target"], record["outcome"]) == (
            "blind",
            "senior",
            "completed",
        )
        answers = [r for r in timeline if r["kind"] == "answered"]
        assert [a["agent"] for a in answers] == ["1003", "1004"]
        assert_handle_time(stack, "1003", answers[0], first(timeline, "agent_left"))
        await stack.backend.wait_until(lambda: len(stack.backend.creates_received()) == 1)
        (ticket,) = stack.backend.creates_received()
        assert ticket.body["agents"] == {"first_contact": "1003", "others": ["1004"]}


@pytest.mark.hardening
async def test_one_key_transfer_to_110_preempts_a_ringing_transfer(
    tmp_path: Path, empty_dsn: str
) -> None:
    remotes = (
        RemoteScript(number="12319", trunk="hotline-12319", answer_after=None),
        RemoteScript(number="110", answer_after=0.5),
    )
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=[AGENT_PHONE],
        patches=PATCHES,
        sim_options={"remotes": remotes},
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        base = f"/api/calls/{call.call_id}"
        caller, agent_leg = call.caller_channel, call.agent_channel
        body = {"mode": "three_way", "target": {"kind": "line", "ref": "city_management"}}
        status, ringing = await stack.api("POST", base + "/transfer", token=token, json=body)
        assert status == 201 and ringing["state"] == "ringing"
        status, refused = await stack.api("POST", base + "/hold", token=token)
        assert (status, refused["error"]) == (409, "transfer_in_progress")

        status, emergency = await stack.api(
            "POST", base + "/emergency", token=token, json={"number": "110"}
        )
        assert status == 201, emergency
        assert (emergency["kind"], emergency["mode"]) == ("emergency", "blind")
        assert emergency["target"]["label"] == "报警电话（公安局）"
        leg = emergency["leg"]
        # The ringing three-way leg is dropped at once, and so is the agent (one key).
        await stack.sim.wait_for(
            lambda: (
                stack.sim.channel_log(ringing["leg"]).destroyed
                and stack.sim.channel_log(agent_leg).destroyed
            ),
            what="pre-empted legs gone",
        )
        assert handled(stack, "1003").handled == 1
        await stack.sim.wait_for(lambda: call.phase is CallPhase.HANDED_OFF, what="110 answers")
        await stack.engine.drain()
        assert await members(stack, call.bridge_id) == {caller, leg}
        (originate,) = [
            r for r in stack.requests("POST", "/channels") if r.params.get("channelId") == leg
        ]
        assert originate.params["endpoint"] == "PJSIP/110@carrier"
        # 110 calls the person in danger back: it is shown the citizen's number, and the
        # parallel line the hotline's.
        assert originate.params["callerId"] == CALLER
        (three_way,) = [
            r
            for r in stack.requests("POST", "/channels")
            if r.params.get("channelId") == ringing["leg"]
        ]
        assert three_way.params["callerId"] == "12345"
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        row = await stack.call_row(ended.call_id)
        assert row["tags"]["emergency"] == "110", "the call record marks the hand-off"
        timeline = await rows(stack, ended.call_id)
        legs = [r["detail"] for r in timeline if r["kind"] == "leg_ended"]
        assert [(x["kind"], x["target"], x["outcome"], x["presented"]) for x in legs] == [
            ("three_way", "12319", "cancelled", "12345"),
            ("emergency", "110", "completed", CALLER),
        ]
        assert row["tags"]["emergency_presented"] == CALLER
        kinds = [r["kind"] for r in timeline]
        order = ["transfer_started", "transfer_cancelled", "emergency", "transfer_started"]
        order += ["agent_left", "consultee_answered", "handed_over"]
        assert [k for k in kinds if k in order] == order, kinds
        assert first(timeline, "emergency")["detail"] == {
            "number": "110",
            "mode": "blind",
            "presented": CALLER,
        }
        assert_handle_time(
            stack, "1003", first(timeline, "answered"), first(timeline, "agent_left")
        )
        await stack.backend.wait_until(lambda: len(stack.backend.creates_received()) == 1)
        (ticket,) = stack.backend.creates_received()
        assert [(t["kind"], t["presented"]) for t in ticket.body["transfers"]] == [
            ("three_way", "12345"),
            ("emergency", CALLER),
        ]


def _hotline_shown_to_119(data: Any) -> None:
    """lines.yaml: 119 is shown the hotline's number; 12319 the citizen's."""
    for line in data["emergency"]:
        if line["number"] == "119":
            line["present"] = "hotline"
    for line in data["parallel"]:
        if "12319" in line["numbers"]:
            line["present"] = "citizen"


@pytest.mark.hardening
async def test_the_presented_number_is_configured_per_target(
    tmp_path: Path, empty_dsn: str
) -> None:
    remotes = (
        RemoteScript(number="12319", trunk="hotline-12319", answer_after=None),
        RemoteScript(number="119", answer_after=None),
    )
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=[AGENT_PHONE],
        patches={**PATCHES, "lines.yaml": _hotline_shown_to_119},
        sim_options={"remotes": remotes},
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        base = f"/api/calls/{call.call_id}"
        body = {"mode": "three_way", "target": {"kind": "line", "ref": "city_management"}}
        status, line = await stack.api("POST", base + "/transfer", token=token, json=body)
        assert status == 201, line
        status, fire = await stack.api(
            "POST", base + "/emergency", token=token, json={"number": "119"}
        )
        assert status == 201, fire
        await stack.engine.drain()
        shown = {
            r.params.get("channelId"): r.params.get("callerId")
            for r in stack.requests("POST", "/channels")
        }
        assert shown[line["leg"]] == CALLER
        assert shown[fire["leg"]] == "12345"
        stack.sim.hangup_call(handle)
        await stack.wait_ended(1)


async def test_supervisor_whispers_then_barges(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_SUPERVISOR_TOKEN", f"张敏:{SUPERVISOR_TOKEN}")
    async with running_stack(
        tmp_path, empty_dsn, phones=[AGENT_PHONE, SUPERVISOR_PHONE], patches=PATCHES
    ) as stack:
        engine = stack.engine
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        path = f"/api/calls/{call.call_id}/monitor"
        caller, agent_leg = call.caller_channel, call.agent_channel
        # Only the supervisor role may listen in; the refusal is audited too.
        status, refused = await stack.api(
            "POST", path, token=token, json={"mode": "listen", "seat": "s02"}
        )
        assert (status, refused["error"]) == (403, "forbidden")

        status, started = await stack.api(
            "POST", path, token=SUPERVISOR_TOKEN, json={"mode": "whisper", "seat": "s37"}
        )
        assert status == 201 and (started["state"], started["mode"]) == ("dialing", "whisper")
        plan = engine.monitors.session_of(call.call_id, "张敏").plan
        await stack.sim.wait_for(lambda: plan.snoop is not None, what="the snoop is bridged")
        await engine.drain()
        snoop, sup = plan.snoop, plan.leg
        session = engine.monitors.session_of(call.call_id, "张敏")
        assert await members(stack, session.bridge) == {snoop, sup}
        # The snoop spies on the agent's leg and whispers to the agent only.
        assert ("snoop", f"{agent_leg} spy=both whisper=out") in stack.sim.channel_log(snoop).heard
        assert await members(stack, call.bridge_id) == {caller, agent_leg}
        (dial,) = [
            r for r in stack.requests("POST", "/channels") if r.params.get("channelId") == sup
        ]
        assert dial.params["endpoint"] == "PJSIP/8037"

        status, barged = await stack.api(
            "POST", path, token=SUPERVISOR_TOKEN, json={"mode": "barge", "seat": "s37"}
        )
        assert status == 201 and barged["state"] == "barge", barged
        await stack.sim.wait_for(lambda: stack.sim.channel_log(snoop).destroyed, what="snoop")
        await engine.drain()
        assert await members(stack, call.bridge_id) == {caller, agent_leg, sup}

        status, stopped = await stack.api("DELETE", path, token=SUPERVISOR_TOKEN)
        assert status == 200 and stopped["state"] == "ended"
        await stack.sim.wait_for(lambda: stack.sim.channel_log(sup).destroyed, what="sup gone")
        await engine.drain()
        assert await members(stack, call.bridge_id) == {caller, agent_leg}
        assert call.phase is CallPhase.CONNECTED, "the call went on throughout"

        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        await stack.flushed()
        audit = await stack.db.fetch("SELECT * FROM audit_log ORDER BY id")
        assert [(a["actor"], a["action"], a["allowed"]) for a in audit] == [
            ("1003", "monitor", False),
            ("张敏", "monitor_whisper", True),
            ("张敏", "monitor_barge", True),
            ("张敏", "monitor_stop", True),
        ]
        assert all(a["target"] == call.call_id for a in audit)
        assert audit[1]["role"] == "supervisor" and audit[1]["detail"]["agent"] == "1003"
        timeline = await rows(stack, ended.call_id)
        kinds = [r["kind"] for r in timeline if r["kind"].startswith("supervisor_")]
        assert kinds == [
            "supervisor_requested",
            "supervisor_whisper",
            "supervisor_barge",
            "supervisor_left",
        ]
        assert first(timeline, "supervisor_left")["detail"]["reason"] == "stopped"
        assert_handle_time(
            stack, "1003", first(timeline, "answered"), first(timeline, "caller_hangup")
        )


async def test_agents_hold_mute_and_hand_a_call_to_a_colleague(
    tmp_path: Path, empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_SUPERVISOR_TOKEN", SUPERVISOR_TOKEN)
    async with running_stack(
        tmp_path, empty_dsn, phones=[AGENT_PHONE, SECOND_PHONE], patches=PATCHES
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        colleague = await stack.login("1004", "s02")
        base = f"/api/calls/{call.call_id}"
        caller, agent_leg = call.caller_channel, call.agent_channel
        # Only the call's own agent acts on it, and only agents.
        body = {"mode": "blind", "target": {"kind": "number", "ref": "85595599"}}
        status, refused = await stack.api("POST", base + "/transfer", token=colleague, json=body)
        assert (status, refused["error"]) == (403, "not_your_call")
        status, refused = await stack.api(
            "POST", base + "/transfer", token=SUPERVISOR_TOKEN, json=body
        )
        assert (status, refused["error"]) == (403, "forbidden")
        status, refused = await stack.api("POST", "/api/calls/c-nope/hold", token=token)
        assert (status, refused["error"]) == (404, "no_call")

        status, view = await stack.api("POST", base + "/hold", token=token)
        assert status == 200 and view["held"] is True
        await stack.engine.drain()
        assert await members(stack, call.bridge_id) == {agent_leg}
        status, view = await stack.api("DELETE", base + "/hold", token=token)
        assert status == 200 and view["held"] is False
        status, view = await stack.api("POST", base + "/mute", token=token)
        assert status == 200 and view["muted"] is True
        await stack.engine.drain()
        assert await members(stack, call.bridge_id) == {caller, agent_leg}
        assert ("mute", "in") in stack.sim.channel_log(agent_leg).heard
        status, view = await stack.api("DELETE", base + "/mute", token=token)
        assert view["muted"] is False

        # Consult the colleague, then hand the call over: the colleague becomes its agent.
        body = {"mode": "attended", "target": {"kind": "agent", "ref": "1004"}}
        status, started = await stack.api("POST", base + "/transfer", token=token, json=body)
        assert status == 201, started
        plan = stack.engine.transfers.latest(call.call_id)
        await stack.sim.wait_for(lambda: plan.public_state == "consulting", what="consulting")
        status, done = await stack.api("POST", base + "/transfer/complete", token=token)
        assert status == 200 and done["outcome"] == "completed", done
        assert call.agent == "1004" and call.phase is CallPhase.CONNECTED
        assert stack.engine.current_call_of("1004") is call
        await stack.engine.drain()
        assert await members(stack, call.bridge_id) == {caller, started["leg"]}
        # The colleague hangs up like any agent: the caller goes to the survey.
        stack.sim.hangup_phone("8002")
        await stack.sim.wait_for(lambda: call.phase is CallPhase.SURVEY, what="survey")
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        timeline = await rows(stack, ended.call_id)
        kinds = [r["kind"] for r in timeline]
        for kind in ("caller_held", "caller_unheld", "agent_muted", "agent_unmuted"):
            assert first(timeline, kind)["agent"] == "1003"
        order = ["transfer_started", "consultee_answered", "agent_left", "taken_over"]
        order += ["transfer_completed", "leg_ended", "agent_hangup", "ended"]
        assert [k for k in kinds if k in order] == order, kinds
        assert first(timeline, "taken_over")["agent"] == "1004"
        record = first(timeline, "leg_ended")["detail"]
        assert (record["kind"], record["target"], record["outcome"]) == (
            "attended",
            "1004",
            "completed",
        )
        assert_handle_time(
            stack, "1003", first(timeline, "answered"), first(timeline, "agent_left")
        )
        row = await stack.call_row(ended.call_id)
        assert (row["first_agent"], row["last_agent"]) == ("1003", "1004")
        await stack.backend.wait_until(lambda: len(stack.backend.creates_received()) == 1)
        (ticket,) = stack.backend.creates_received()
        assert ticket.body["agents"] == {"first_contact": "1003", "others": ["1004"]}


async def test_a_failed_blind_transfer_returns_the_caller_to_the_queue(
    tmp_path: Path, empty_dsn: str
) -> None:
    remote = RemoteScript(number="85595599", busy=True)
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=[AGENT_PHONE],
        patches=PATCHES,
        sim_options={"remotes": (remote,)},
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        first_leg = call.agent_channel
        body = {"mode": "blind", "target": {"kind": "number", "ref": "85595599"}}
        status, started = await stack.api(
            "POST", f"/api/calls/{call.call_id}/transfer", token=token, json=body
        )
        assert status == 201 and started["state"] == "ringing", started
        # Busy: nobody is left on the call, so the caller goes back to 综合座席, where
        # the same agent (free again, no wrap-up) answers it once more.
        await stack.sim.wait_for(
            lambda: call.phase is CallPhase.CONNECTED and call.agent_channel != first_leg,
            timeout=10,
            what="answered again",
        )
        await stack.engine.drain()
        assert await members(stack, call.bridge_id) == {call.caller_channel, call.agent_channel}
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        timeline = await rows(stack, ended.call_id)
        kinds = [r["kind"] for r in timeline]
        order = ["transfer_started", "agent_left", "consultee_failed", "leg_ended", "queued"]
        order += ["answered"]
        assert [k for k in kinds[kinds.index("transfer_started") :] if k in order] == order
        assert first(timeline, "queued", requeued=True)["detail"]["queue"] == "general"
        record = first(timeline, "leg_ended")["detail"]
        assert (record["kind"], record["outcome"]) == ("blind", "busy")
        figures = handled(stack, "1003")
        assert figures.handled == 2, "two conversations, one call"
        first_answer, second_answer = [r["at"] for r in timeline if r["kind"] == "answered"]
        talk = (first(timeline, "agent_left")["at"] - first_answer).total_seconds()
        talk += (first(timeline, "caller_hangup")["at"] - second_answer).total_seconds()
        assert abs(figures.avg_handle_s * 2 - talk) < 0.2, (figures.avg_handle_s, talk)

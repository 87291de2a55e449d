"""Three-way calls and attended transfers end to end: pbxsim, the engine, PostgreSQL.

Each test drives a real call over the engine's HTTP API and asserts what
Asterisk (pbxsim) was asked to do, the timeline rows in PostgreSQL, and the
first agent's handle time in the ACD's figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxsim import CallerScript, DigitPress, PhoneScript, RemoteScript
from switchboard import CallPhase
from tests.support.stack import running_stack
from tests.transfer_support import (
    CALLER,
    NAME,
    PATCHES,
    SURVEY,
    assert_handle_time,
    connected_call,
    first,
    handled,
    members,
    rows,
)

pytestmark = pytest.mark.transfer

AGENT_PHONE = PhoneScript("8001", answer_after=0.3)


async def test_three_way_call_to_12319_then_the_agent_drops_out(
    tmp_path: Path, empty_dsn: str
) -> None:
    remote = RemoteScript(number="12319", trunk="hotline-12319", answer_after=0.5, hangup_after=20)
    caller = CallerScript(
        number=CALLER, name=NAME, digits=(DigitPress(at=0.2, digits="1", on_media=SURVEY),)
    )
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=[AGENT_PHONE],
        patches=PATCHES,
        sim_options={"remotes": (remote,)},
    ) as stack:
        call, _, token = await connected_call(stack, "1003", "s01", caller)
        path = f"/api/calls/{call.call_id}/transfer"
        body = {"mode": "three_way", "target": {"kind": "line", "ref": "city_management"}}
        status, started = await stack.api("POST", path, token=token, json=body)
        assert status == 201, started
        assert started["state"] == "ringing" and started["kind"] == "three_way"
        assert started["target"] == {"kind": "line", "ref": "12319", "label": "数字城管（城管局）"}
        leg = started["leg"]

        # While the consultee rings, caller and agent keep talking; then all three talk.
        assert await members(stack, call.bridge_id) == {call.caller_channel, call.agent_channel}
        plan = stack.engine.transfers.latest(call.call_id)
        await stack.sim.wait_for(lambda: plan.public_state == "conference", what="conference")
        await stack.engine.drain()
        agent_leg = call.agent_channel
        assert await members(stack, call.bridge_id) == {call.caller_channel, agent_leg, leg}
        (originate,) = [
            r for r in stack.requests("POST", "/channels") if r.params.get("channelId") == leg
        ]
        assert originate.params["endpoint"] == "PJSIP/12319@hotline-12319"
        assert originate.params["appArgs"] == f"consultee,{call.call_id},{leg}"

        # The agent drops out: caller and consultee stay bridged (the hand-off).
        status, left = await stack.api("POST", path + "/leave", token=token)
        assert status == 200 and left["state"] == "handed_over", left
        await stack.sim.wait_for(
            lambda: stack.sim.channel_log(agent_leg).destroyed, what="agent gone"
        )
        await stack.engine.drain()
        assert await members(stack, call.bridge_id) == {call.caller_channel, leg}
        assert call.phase is CallPhase.HANDED_OFF
        assert stack.engine.current_call_of("1003") is None
        assert handled(stack, "1003").handled == 1, "the first agent's call is over"

        # The consultee hangs up later; the caller is then offered the survey.
        (ended,) = await stack.wait_ended(1, timeout=20)
        row = await stack.call_row(ended.call_id)
        assert row["outcome"] == "answered" and row["rating"] == 1
        assert row["first_agent"] == "1003" and row["last_agent"] == "1003"
        timeline = await rows(stack, call.call_id)
        kinds = [r["kind"] for r in timeline]
        order = ["answered", "transfer_started", "consultee_answered", "conference", "agent_left"]
        order += ["handed_over", "consultee_left", "leg_ended", "rated", "ended"]
        assert [k for k in kinds if k in order] == order, kinds
        begun = first(timeline, "transfer_started")
        assert begun["agent"] == "1003"
        assert begun["detail"] == {
            "leg": leg,
            "target": "12319",
            "mode": "three_way",
            "kind": "three_way",
            "target_kind": "line",
            "label": "数字城管（城管局）",
        }
        record = first(timeline, "leg_ended")
        assert record["agent"] == "1003"
        assert (
            record["detail"]["outcome"] == "completed" and record["detail"]["kind"] == "three_way"
        )
        assert record["detail"]["started_by"] == "1003" and record["detail"]["target"] == "12319"
        leg_life = (record["at"] - begun["at"]).total_seconds()
        assert abs(record["detail"]["duration_s"] - leg_life) < 0.05
        # The first agent's handle time ended when they left, not when the call did.
        assert_handle_time(
            stack, "1003", first(timeline, "answered"), first(timeline, "agent_left")
        )
        assert (
            first(timeline, "ended")["at"] - first(timeline, "agent_left")["at"]
        ).total_seconds() > 1.5
        await stack.backend.wait_until(lambda: len(stack.backend.creates_received()) == 1)
        (ticket,) = stack.backend.creates_received()
        (transfer,) = ticket.body["transfers"]
        assert transfer["kind"] == "three_way" and transfer["outcome"] == "completed"
        assert transfer["target"] == "12319" and transfer["started_by"] == "1003"


async def test_consultees_who_do_not_answer_or_are_busy(tmp_path: Path, empty_dsn: str) -> None:
    remotes = (
        RemoteScript(number="12319", trunk="hotline-12319", answer_after=None),
        RemoteScript(number="85595599", busy=True),
    )
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=[AGENT_PHONE],
        patches=PATCHES,
        sim_options={"remotes": remotes},
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        path = f"/api/calls/{call.call_id}/transfer"
        body = {"mode": "three_way", "target": {"kind": "line", "ref": "city_management"}}
        status, started = await stack.api("POST", path, token=token, json=body)
        assert status == 201, started
        status, refused = await stack.api("POST", path + "/join", token=token)
        assert (status, refused["error"]) == (409, "not_answered"), refused
        # Nobody answers: the leg rings out (originate timeout), the agent is told,
        # and the call goes on between caller and agent.
        await stack.sim.wait_for(
            lambda: stack.engine.transfers.latest(call.call_id).done, timeout=5, what="ring out"
        )
        status, view = await stack.api("GET", path, token=token)
        assert status == 200 and view["state"] == "ended" and view["outcome"] == "no_answer"
        assert [(n["what"], n["reason"]) for n in view["notices"]] == [
            ("consultee_failed", "no_answer")
        ]
        await stack.engine.drain()
        assert call.phase is CallPhase.CONNECTED
        assert await members(stack, call.bridge_id) == {call.caller_channel, call.agent_channel}

        # A second try, to a busy line: busy, and the call still goes on.
        body = {"mode": "three_way", "target": {"kind": "line", "ref": "water"}}
        status, second = await stack.api("POST", path, token=token, json=body)
        assert status == 201 and second["leg"] != started["leg"], second
        await stack.sim.wait_for(
            lambda: stack.engine.transfers.latest(call.call_id).done, timeout=5, what="busy"
        )
        status, view = await stack.api("GET", path, token=token)
        assert view["outcome"] == "busy"
        assert call.phase is CallPhase.CONNECTED

        # The agent hangs up as on any call: the caller goes to the survey.
        agent_leg = call.agent_channel
        stack.sim.hangup_phone("8001")
        await stack.sim.wait_for(lambda: call.phase is CallPhase.SURVEY, what="survey")
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        timeline = await rows(stack, ended.call_id)
        legs = [r["detail"] for r in timeline if r["kind"] == "leg_ended"]
        assert [(leg["target"], leg["outcome"]) for leg in legs] == [
            ("12319", "no_answer"),
            ("85595599", "busy"),
        ]
        failed = [r["detail"]["reason"] for r in timeline if r["kind"] == "consultee_failed"]
        assert failed == ["no_answer", "busy"]
        assert all(leg["started_by"] == "1003" for leg in legs)
        assert legs[0]["duration_s"] >= 0.4, "it rang for the originate timeout"
        assert stack.sim.channel_log(agent_leg).destroyed
        assert_handle_time(
            stack, "1003", first(timeline, "answered"), first(timeline, "agent_hangup")
        )
        (_, busy_originate) = [
            r
            for r in stack.requests("POST", "/channels")
            if r.params.get("appArgs", "").startswith("consultee,")
        ]
        assert busy_originate.params["endpoint"] == "PJSIP/85595599@carrier"


def _heard(stack: object, channel: str) -> list[tuple[str, str]]:
    return stack.sim.channel_log(channel).heard  # type: ignore[attr-defined, no-any-return]


async def _consulting(stack: object, call: object, token: str, number: str) -> str:
    """Start an attended transfer to ``number``; the consultee leg once agent and
    consultee talk and the caller holds."""
    path = f"/api/calls/{call.call_id}/transfer"  # type: ignore[attr-defined]
    body = {"mode": "attended", "target": {"kind": "number", "ref": number}}
    status, started = await stack.api("POST", path, token=token, json=body)  # type: ignore[attr-defined]
    assert status == 201 and started["kind"] == "attended", started
    plan = stack.engine.transfers.latest(call.call_id)  # type: ignore[attr-defined]
    await stack.sim.wait_for(lambda: plan.public_state == "consulting", what="consulting")  # type: ignore[attr-defined]
    await stack.engine.drain()  # type: ignore[attr-defined]
    return str(started["leg"])


async def test_attended_transfer_completed(tmp_path: Path, empty_dsn: str) -> None:
    remote = RemoteScript(number="12348", answer_after=0.3)
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=[AGENT_PHONE],
        patches=PATCHES,
        sim_options={"remotes": (remote,)},
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        caller, agent_leg = call.caller_channel, call.agent_channel
        leg = await _consulting(stack, call, token, "12348")
        # The caller holds (music, out of the bridge) while agent and consultee talk.
        assert await members(stack, call.bridge_id) == {agent_leg, leg}
        assert ("moh", "default") in _heard(stack, caller)
        status, view = await stack.api(
            "POST", f"/api/calls/{call.call_id}/transfer/complete", token=token
        )
        assert status == 200 and view["state"] == "handed_over", view
        await stack.sim.wait_for(
            lambda: stack.sim.channel_log(agent_leg).destroyed, what="agent gone"
        )
        await stack.engine.drain()
        assert await members(stack, call.bridge_id) == {caller, leg}
        assert _heard(stack, caller)[-1][0] != "moh", "the music stopped"
        assert call.phase is CallPhase.HANDED_OFF
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        # The consultee leg goes with the caller.
        await stack.sim.wait_for(lambda: stack.sim.channel_log(leg).destroyed, what="consultee")
        timeline = await rows(stack, ended.call_id)
        kinds = [r["kind"] for r in timeline]
        order = ["transfer_started", "consultee_answered", "agent_left", "handed_over"]
        order += ["caller_hangup", "leg_ended", "ended"]
        assert [k for k in kinds if k in order] == order, kinds
        record = first(timeline, "leg_ended")["detail"]
        assert (record["kind"], record["target"], record["outcome"]) == (
            "attended",
            "12348",
            "completed",
        )
        assert_handle_time(
            stack, "1003", first(timeline, "answered"), first(timeline, "agent_left")
        )
        row = await stack.call_row(ended.call_id)
        assert row["outcome"] == "answered" and row["hangup_by"] == "caller"


async def test_attended_transfer_cancelled(tmp_path: Path, empty_dsn: str) -> None:
    remote = RemoteScript(number="12348", answer_after=0.3)
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=[AGENT_PHONE],
        patches=PATCHES,
        sim_options={"remotes": (remote,)},
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        caller, agent_leg = call.caller_channel, call.agent_channel
        leg = await _consulting(stack, call, token, "12348")
        status, view = await stack.api(
            "POST", f"/api/calls/{call.call_id}/transfer/cancel", token=token
        )
        assert status == 200 and (view["state"], view["outcome"]) == ("ended", "cancelled"), view
        await stack.sim.wait_for(
            lambda: stack.sim.channel_log(leg).destroyed, what="consultee gone"
        )
        await stack.engine.drain()
        # The agent has the caller back; the music stopped.
        assert await members(stack, call.bridge_id) == {caller, agent_leg}
        assert ("moh_stop", "default") in _heard(stack, caller)
        assert call.phase is CallPhase.CONNECTED and not call.held
        assert handled(stack, "1003").handled == 0, "the agent is still on the call"
        stack.sim.hangup_phone("8001")
        await stack.sim.wait_for(lambda: call.phase is CallPhase.SURVEY, what="survey")
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        timeline = await rows(stack, ended.call_id)
        cancelled = first(timeline, "transfer_cancelled")
        assert cancelled["agent"] == "1003" and cancelled["detail"]["reason"] == "agent"
        record = first(timeline, "leg_ended")["detail"]
        assert (record["kind"], record["outcome"]) == ("attended", "cancelled")
        assert_handle_time(
            stack, "1003", first(timeline, "answered"), first(timeline, "agent_hangup")
        )


async def test_caller_hangs_up_during_a_consult(tmp_path: Path, empty_dsn: str) -> None:
    remote = RemoteScript(number="12348", answer_after=0.3)
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=[AGENT_PHONE],
        patches=PATCHES,
        sim_options={"remotes": (remote,)},
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        agent_leg = call.agent_channel
        leg = await _consulting(stack, call, token, "12348")
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        # The consultee and the agent legs go with the caller; nobody sits on a dead line.
        await stack.sim.wait_for(
            lambda: (
                stack.sim.channel_log(leg).destroyed and stack.sim.channel_log(agent_leg).destroyed
            ),
            what="legs gone",
        )
        row = await stack.call_row(ended.call_id)
        assert row["outcome"] == "answered" and row["hangup_by"] == "caller"
        assert row["rating_label"] == "not_rated"
        timeline = await rows(stack, ended.call_id)
        kinds = [r["kind"] for r in timeline]
        order = ["transfer_started", "consultee_answered", "caller_hangup", "transfer_cancelled"]
        order += ["leg_ended", "ended"]
        assert [k for k in kinds if k in order] == order, kinds
        assert first(timeline, "transfer_cancelled")["detail"]["reason"] == "caller_hangup"
        record = first(timeline, "leg_ended")["detail"]
        assert (record["kind"], record["outcome"]) == ("attended", "cancelled")
        assert_handle_time(
            stack, "1003", first(timeline, "answered"), first(timeline, "caller_hangup")
        )
        assert not stack.engine.calls and stack.engine.board.channels() == frozenset()
        await stack.backend.wait_until(lambda: len(stack.backend.creates_received()) == 1)
        (ticket,) = stack.backend.creates_received()
        assert [t["outcome"] for t in ticket.body["transfers"]] == ["cancelled"]


async def test_agent_hanging_up_mid_consult_puts_the_caller_through(
    tmp_path: Path, empty_dsn: str
) -> None:
    remote = RemoteScript(number="12348", answer_after=0.3)
    async with running_stack(
        tmp_path,
        empty_dsn,
        phones=[AGENT_PHONE],
        patches=PATCHES,
        sim_options={"remotes": (remote,)},
    ) as stack:
        call, handle, token = await connected_call(stack, "1003", "s01", CallerScript(CALLER))
        caller = call.caller_channel
        leg = await _consulting(stack, call, token, "12348")
        stack.sim.hangup_phone("8001")  # the agent puts the handset down
        await stack.sim.wait_for(lambda: call.phase is CallPhase.HANDED_OFF, what="hand-off")
        await stack.engine.drain()
        assert await members(stack, call.bridge_id) == {caller, leg}
        assert handled(stack, "1003").handled == 1
        stack.sim.hangup_call(handle)
        (ended,) = await stack.wait_ended(1)
        timeline = await rows(stack, ended.call_id)
        left = first(timeline, "agent_left")
        assert left["detail"]["reason"] == "agent_hangup"
        record = first(timeline, "leg_ended")["detail"]
        assert (record["kind"], record["outcome"]) == ("attended", "completed")
        assert_handle_time(
            stack, "1003", first(timeline, "answered"), first(timeline, "agent_hangup")
        )

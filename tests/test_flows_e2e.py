"""Calls from ring to rating, end to end over real sockets: pbxsim, the engine, PostgreSQL.

Each test asserts on the call records the engine left in PostgreSQL and on
the ARI requests pbxsim received.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from pbxsim import CallerScript, DigitPress, PhoneScript
from tests.support.stack import running_stack

pytestmark = pytest.mark.flows

CALLER = "13800138000"
NAME = "张三市民"
SURVEY = "sound:hotline/zh/survey-question"


def _kinds(timeline: list[dict[str, Any]]) -> list[str]:
    return [row["kind"] for row in timeline]


async def test_call_answered_bridged_recorded_and_rated(tmp_path: Path, empty_dsn: str) -> None:
    phone = PhoneScript("8001", answer_after=0.5, hangup_after=2.0)
    async with running_stack(tmp_path, empty_dsn, phones=[phone]) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_call(
            CallerScript(
                number=CALLER,
                name=NAME,
                digits=(DigitPress(at=0.5, digits="2", on_media=SURVEY),),
            )
        )
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "answered"
        assert row["first_agent"] == "1001"
        assert row["rating"] == 2 and row["rating_label"] == "满意"
        assert row["hangup_by"] == "agent"
        assert row["caller_name"] == NAME and row["caller_number"] == CALLER
        assert row["route"] == "main" and row["queue"] == "general"
        for column in ("arrived_at", "routed_at", "queued_at", "first_offered_at", "answered_at"):
            assert row[column] is not None, column
        assert row["arrived_at"] <= row["queued_at"] <= row["answered_at"] <= row["ended_at"]
        kinds = _kinds(await stack.timeline(call.call_id))
        assert kinds[:2] == ["arrived", "routed"]
        assert kinds.index("queued") < kinds.index("offered") < kinds.index("answered")
        assert "recording_started" in kinds and "rated" in kinds and kinds[-1] == "ended"
        rating = await stack.db.fetchrow("SELECT * FROM ratings WHERE call_id = $1", call.call_id)
        assert rating is not None and rating["level"] == 2

        # What the softswitch was asked to do: the agent leg shows the caller's
        # Chinese name intact, the bridge joins both legs and is recorded.
        (originate,) = stack.requests("POST", "/channels")[:1]
        assert originate.params["endpoint"] == "PJSIP/8001"
        assert NAME in originate.params["callerId"] and CALLER in originate.params["callerId"]
        assert originate.params["appArgs"] == f"agent,{call.call_id},1001"
        (record,) = [r for r in stack.requests("POST", "/bridges/") if r.path.endswith("/record")]
        assert record.params["name"] == f"{call.call_id}-1"
        leg_id = originate.params["channelId"]
        (agent_start,) = [
            e
            for e in stack.sim.events
            if e["type"] == "StasisStart" and e["channel"]["id"] == leg_id
        ]
        assert agent_start["channel"]["caller"]["name"] == NAME


async def test_call_abandoned_in_queue(tmp_path: Path, empty_dsn: str) -> None:
    async with running_stack(tmp_path, empty_dsn) as stack:
        stack.sim.place_call(CallerScript(number=CALLER, name=NAME, hangup_after=15.0))
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "abandoned"
        assert row["hangup_by"] == "caller"
        assert row["queued_at"] is not None and row["answered_at"] is None
        assert row["rating"] is None
        assert stack.requests("POST", "/channels") == [], "nobody was offered the call"


async def test_ring_no_answer_moves_to_a_second_agent(tmp_path: Path, empty_dsn: str) -> None:
    def short_ring(data: Any) -> None:
        data["queues"]["general"]["ring_timeout"] = 5

    phones = [
        PhoneScript("8001", answer_after=None),  # rings, nobody answers
        PhoneScript("8002", answer_after=0.3, hangup_after=1.0),
    ]
    async with running_stack(
        tmp_path, empty_dsn, phones=phones, patches={"queues.yaml": short_ring}
    ) as stack:
        await stack.login("1001", "s01")
        await stack.login("1003", "s02")
        stack.sim.place_call(CallerScript(number=CALLER, name=NAME))
        (call,) = await stack.wait_ended(1, timeout=30)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "answered"
        timeline = await stack.timeline(call.call_id)
        offers = [(r["kind"], r["agent"]) for r in timeline if r["kind"].startswith("offer")]
        assert offers[0] == ("offered", "1001")
        assert ("offered", "1003") in offers
        assert offers.index(("offered", "1003")) > 0
        first_outcome = next(k for k, a in offers[1:] if a == "1001")
        assert first_outcome == "offer_no_answer"
        assert row["first_agent"] == "1003"
        endpoints = [r.params["endpoint"] for r in stack.requests("POST", "/channels")]
        assert endpoints[:2] == ["PJSIP/8001", "PJSIP/8002"]


def _transition_dates(data: Any) -> None:
    today = dt.date.today()
    for line in data["merged"]:
        if "83531111" in line["numbers"]:
            line["go_live"] = today - dt.timedelta(days=20)
            line["cut_over"] = today + dt.timedelta(days=60)


async def test_retired_number_in_transition_then_after_cut_over(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript("8001", answer_after=0.3, hangup_after=1.0)
    async with running_stack(
        tmp_path, empty_dsn, phones=[phone], patches={"lines.yaml": _transition_dates}
    ) as stack:
        await stack.login("1001", "s01")
        # In its transition, dialled directly: the announcement, then the queue,
        # tagged with the original department.
        stack.sim.place_call(CallerScript(number=CALLER, dialled="83531111"))
        # Forwarded by the carrier (SIP Diversion -> REDIRECTING(from-num)),
        # a line long past its cut-over: announcement, then hang-up.
        stack.sim.place_call(
            CallerScript(number="13900139000", dialled="12345", redirecting_from="85129699")
        )
        calls = {c.caller_number: c for c in await stack.wait_ended(2, timeout=30)}
        merged = await stack.call_row(calls[CALLER].call_id)
        assert merged["outcome"] == "answered"
        assert merged["original_number"] == "83531111"
        assert merged["department"] == "城建局"
        assert merged["route"] == "merged_line"
        withdrawn = await stack.call_row(calls["13900139000"].call_id)
        assert withdrawn["outcome"] == "withdrawn"
        assert withdrawn["original_number"] == "85129699"
        assert withdrawn["department"] == "安监局"
        assert withdrawn["queued_at"] is None and withdrawn["answered_at"] is None
        heard = stack.sim.channel_log(calls["13900139000"].caller_channel).media_played
        assert any("number-withdrawn" in m for m in heard), heard
        heard = stack.sim.channel_log(calls[CALLER].caller_channel).media_played
        assert any("merged-line" in m for m in heard), heard
        # The redirecting number came with the StasisStart (the dialplan's Stasis
        # arguments): the engine never asked for it.
        reads = [r for r in stack.requests("GET", "/channels/") if "/variable" in r.path]
        assert reads == [], [r.path for r in reads]


def _no_notice(data: Any) -> None:
    data["routes"]["main"].pop("notice", None)


async def test_the_agent_is_rung_without_waiting_for_any_answer(
    tmp_path: Path, empty_dsn: str
) -> None:
    """With no prompt before the queue, the agent leg's originate goes out at once:
    before the caller's answer, which waits for the call id to be set on the channel."""
    phone = PhoneScript("8001", answer_after=0.3, hangup_after=0.5)
    async with running_stack(
        tmp_path, empty_dsn, phones=[phone], patches={"routing.yaml": _no_notice}
    ) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_call(CallerScript(number=CALLER))
        (call,) = await stack.wait_ended(1)
        caller = str(call.caller_channel)
        (originate,) = [
            r
            for r in stack.requests("POST", "/channels")
            if r.params.get("endpoint") == "PJSIP/8001"
        ]
        (answer,) = stack.requests("POST", f"/channels/{caller}/answer")
        (named,) = [
            r
            for r in stack.requests("POST", f"/channels/{caller}/variable")
            if r.params.get("variable") == "HOTLINE_CALL_ID"
        ]
        assert originate.at < answer.at
        assert named.at < answer.at  # the call id is on the channel before it is answered
        reads = [r for r in stack.requests("GET", "/channels/") if "/variable" in r.path]
        assert reads == []


async def test_number_not_in_service(tmp_path: Path, empty_dsn: str) -> None:
    async with running_stack(tmp_path, empty_dsn) as stack:
        stack.sim.place_call(CallerScript(number=CALLER, dialled="88889999"))
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "not_in_service"
        assert row["dialled"] == "88889999" and row["route"] == "not_in_service"
        assert row["hangup_by"] == "engine"


def _menu_on(data: Any) -> None:
    data["routes"]["main"]["menu"] = "main"
    del data["routes"]["main"]["queue"]


LANGUAGE = "sound:hotline/zh/language-choice"
MENU = "sound:hotline/zh/menu-main"
INVALID = "sound:hotline/zh/invalid-input"


async def test_menu_path_with_an_invalid_key_and_a_retry(tmp_path: Path, empty_dsn: str) -> None:
    phone = PhoneScript("8001", answer_after=0.3, hangup_after=1.0)
    caller = CallerScript(
        number=CALLER,
        name=NAME,
        digits=(
            DigitPress(at=0.05, digits="1", on_media=LANGUAGE),  # 普通话
            DigitPress(at=0.05, digits="7", on_media=MENU),  # no such choice
            DigitPress(at=0.3, digits="1", on_media=INVALID),  # 综合咨询, on the retry
        ),
    )
    async with running_stack(
        tmp_path, empty_dsn, phones=[phone], patches={"routing.yaml": _menu_on}
    ) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_call(caller)
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "answered" and row["queue"] == "general"
        steps = [(s["node"], s["result"], s["keys"]) for s in row["menu_path"]]
        assert ("language", "language", "1") in steps
        assert ("main_menu", "invalid", "7") in steps
        assert ("main_menu", "chosen", "1") in steps
        assert steps.index(("main_menu", "invalid", "7")) < steps.index(
            ("main_menu", "chosen", "1")
        )
        assert row["menu_exited_at"] is not None
        assert row["routed_at"] <= row["menu_exited_at"] <= row["queued_at"]
        assert row["tags"].get("consultation") == "1"
        heard = stack.sim.channel_log(call.caller_channel).media_played
        assert heard.index(MENU) < heard.index(INVALID), "the retry prompt follows the menu"


async def test_voicemail_from_the_menu(tmp_path: Path, empty_dsn: str) -> None:
    caller = CallerScript(
        number=CALLER,
        name=NAME,
        digits=(
            DigitPress(at=0.05, digits="1", on_media=LANGUAGE),
            DigitPress(at=0.05, digits="9", on_media=MENU),
        ),
        hangup_after=8.0,
    )
    async with running_stack(tmp_path, empty_dsn, patches={"routing.yaml": _menu_on}) as stack:
        stack.sim.place_call(caller)
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "voicemail"
        assert row["recording_ref"] is not None
        (record,) = [r for r in stack.requests("POST", "/channels/") if r.path.endswith("/record")]
        assert record.params["name"] == row["recording_ref"]
        await stack.backend.wait_until(lambda: len(stack.backend.creates_received()) == 1)
        (ticket,) = stack.backend.creates_received()
        assert ticket.body["call_id"] == call.call_id and ticket.body["kind"] == "voicemail"


async def test_overflow_to_the_callback_list(tmp_path: Path, empty_dsn: str) -> None:
    def short_wait(data: Any) -> None:
        data["queues"]["general"]["max_wait"] = 2

    async with running_stack(tmp_path, empty_dsn, patches={"queues.yaml": short_wait}) as stack:
        stack.sim.place_call(CallerScript(number=CALLER, name=NAME))
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "callback"
        assert row["hangup_by"] == "engine"
        (entry,) = await stack.db.fetch("SELECT * FROM callbacks WHERE call_id = $1", call.call_id)
        assert entry["caller_number"] == CALLER and entry["status"] == "open"
        heard = stack.sim.channel_log(call.caller_channel).media_played
        assert any("callback-confirm" in m for m in heard), heard
        kinds = _kinds(await stack.timeline(call.call_id))
        assert "overflow" in kinds or "callback_listed" in kinds
        await stack.backend.wait_until(lambda: len(stack.backend.creates_received()) == 1)
        (ticket,) = stack.backend.creates_received()
        assert ticket.body["kind"] == "callback"


async def test_survey_timeout_is_not_rated(tmp_path: Path, empty_dsn: str) -> None:
    def quick_survey(data: Any) -> None:
        data["timeout"] = 1

    phone = PhoneScript("8001", answer_after=0.3, hangup_after=1.0)
    async with running_stack(
        tmp_path, empty_dsn, phones=[phone], patches={"survey.yaml": quick_survey}
    ) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_call(CallerScript(number=CALLER, name=NAME))
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "answered"
        assert row["rating"] is None and row["rating_label"] == "not_rated"
        assert row["hangup_by"] == "agent"
        kinds = _kinds(await stack.timeline(call.call_id))
        assert "not_rated" in kinds

"""Calls out end to end: pbxsim over real sockets, the engine, a real PostgreSQL.

A seat phone dials a citizen (scripted behind the carrier trunk: answers,
is busy, does not answer), a number the dial rules refuse, click-to-dial
from the toolbar, and a callback of the list called with preview's Call.
Each test asserts the records, the audit log, the tickets and the callback
attempts the engine left, and what pbxsim was asked to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pbxsim import CallerScript, PhoneScript, RemoteScript
from tests.faces_support import eventually
from tests.support.stack import running_stack

pytestmark = pytest.mark.outbound

CITIZEN = "13812345678"
SEAT_PHONE = "8001"


def no_quiet_hours(data: Any) -> None:
    # The tests run at any hour: quiet hours are tested on a virtual clock elsewhere.
    data["callbacks"]["quiet_hours"] = {"start": "00:00", "end": "00:00"}
    data["callbacks"]["spacing_minutes"] = 0


def short_wait(data: Any) -> None:
    data["queues"]["general"]["max_wait"] = 1


def citizen(**script: Any) -> dict[str, Any]:
    return {"remotes": (RemoteScript(CITIZEN, trunk="carrier", **script),)}


def seat_call(number: str = CITIZEN, **script: Any) -> CallerScript:
    """The agent at seat s01 dials ``number`` from the phone 8001."""
    return CallerScript(number=SEAT_PHONE, dialled=number, trunk=SEAT_PHONE, **script)


def created(stack: Any) -> list[Any]:
    return stack.requests("POST", "/channels/create")


async def test_a_seat_phone_calls_a_citizen_who_answers(tmp_path: Path, empty_dsn: str) -> None:
    sim = citizen(answer_after=1.0)
    async with running_stack(tmp_path, empty_dsn, sim_options=sim) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_seat_call(seat_call(hangup_after_bridged=3.0))
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "answered"
        assert row["tags"]["direction"] == "outbound" and row["tags"]["agent"] == "1001"
        assert row["first_agent"] == "1001" and row["caller_number"] == CITIZEN
        assert row["answered_at"] is not None and row["hangup_by"] == "agent"
        assert row["recording_ref"] == f"{call.call_id}-1"
        kinds = [r["kind"] for r in await stack.timeline(call.call_id)]
        assert kinds.index("seat_dialled") < kinds.index("dialling") < kinds.index("answered")
        assert "recording_started" in kinds

        # Created into the application, then dialled, showing the hotline's number.
        (create,) = created(stack)
        assert create.params["endpoint"] == f"PJSIP/{CITIZEN}@carrier"
        assert create.params["appArgs"].startswith(f"outbound,{call.call_id},")
        leg = create.params["channelId"]
        assert create.body["variables"]["CALLERID(num)"] == "12345"
        # What PJSIP puts in From and P-Asserted-Identity (tests/asterisk/test_outbound.py).
        assert create.body["variables"]["CONNECTEDLINE(num,i)"] == "12345"
        (dial,) = stack.requests("POST", f"/channels/{leg}/dial")
        assert dial.params["timeout"] == "30"
        (recorded,) = [r for r in stack.requests("POST", "/bridges/") if r.path.endswith("/record")]
        assert recorded.params["name"] == f"{call.call_id}-1"
        # The citizen's phone saw the hotline's number.
        (start,) = [
            e for e in stack.sim.events if e["type"] == "StasisStart" and e["channel"]["id"] == leg
        ]
        answered = [
            e
            for e in stack.sim.events
            if e["type"] == "Dial" and e["peer"]["id"] == leg and e["dialstatus"] == "ANSWER"
        ]
        assert answered and answered[0]["peer"]["caller"]["number"] == "12345"
        assert start["args"][0] == "outbound"

        # The talk counts in the agent's figures.
        view = stack.engine.acd.agent_view("1001")
        assert view is not None and view.talk_today_s > 0
        # An answered call out hands a ticket, of the agent's, like an inbound call.
        await stack.backend.wait_until(lambda: len(stack.backend.tickets) == 1, timeout=15)
        (ticket,) = stack.backend.tickets.values()
        assert ticket.body["kind"] == "call" and ticket.body["tags"]["direction"] == "outbound"


async def test_the_citizen_is_dialled_once_the_created_leg_entered_the_application(
    tmp_path: Path, empty_dsn: str
) -> None:
    # Asterisk 22 answers the create before the channel entered the application, and
    # refuses a dial in between (409): the engine waits for the leg's StasisStart.
    sim = {**citizen(answer_after=1.0), "create_entry_delay": 0.5}
    async with running_stack(tmp_path, empty_dsn, sim_options=sim) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_seat_call(seat_call(hangup_after_bridged=2.0))
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "answered" and row["answered_at"] is not None
        (create,) = created(stack)
        leg = create.params["channelId"]
        (dial,) = stack.requests("POST", f"/channels/{leg}/dial")
        assert dial.status == 204, dial.response  # not 409: the leg was in the application


@pytest.mark.parametrize(
    ("script", "outcome"),
    [({"busy": True}, "busy"), ({"answer_after": None}, "no_answer")],
    ids=["busy", "no_answer"],
)
async def test_a_citizen_who_is_busy_or_does_not_answer(
    tmp_path: Path, empty_dsn: str, script: dict[str, Any], outcome: str
) -> None:
    async with running_stack(tmp_path, empty_dsn, sim_options=citizen(**script)) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_seat_call(seat_call())
        (call,) = await stack.wait_ended(1, timeout=30)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == outcome
        assert row["answered_at"] is None and row["tags"]["direction"] == "outbound"
        (create,) = created(stack)
        leg = create.params["channelId"]
        assert leg not in {c["id"] for c in (await stack.engine.pbx.ari.channels.list())}
        kinds = [r["kind"] for r in await stack.timeline(call.call_id)]
        assert kinds[-2:] == ["dial_ended", "ended"]
        assert stack.backend.tickets == {}
        # The agent is free again (after wrap-up, none for a dial that reached nobody).
        view = stack.engine.acd.agent_view("1001")
        assert view is not None and view.state.value == "idle"


async def test_a_number_the_rules_refuse_is_played_and_audited(
    tmp_path: Path, empty_dsn: str
) -> None:
    async with running_stack(tmp_path, empty_dsn) as stack:
        await stack.login("1001", "s01")
        stack.sim.place_seat_call(seat_call("00441234567"))
        (call,) = await stack.wait_ended(1)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "dial_refused" and row["tags"]["direction"] == "outbound"
        assert created(stack) == []
        plays = [r for r in stack.requests("POST", "/channels/") if "/play" in r.path]
        assert [p.params["media"] for p in plays] == ["sound:hotline/zh/dial-refused"]
        rows = await stack.db.fetch(
            "SELECT actor, target, allowed, detail FROM audit_log WHERE action = 'dial_refused'"
        )
        assert [(r["actor"], r["target"], r["allowed"]) for r in rows] == [
            ("1001", "number:004****4567", False)
        ]
        assert rows[0]["detail"]["rule"] == "international"


async def test_click_to_dial_rings_the_seat_then_the_citizen(
    tmp_path: Path, empty_dsn: str
) -> None:
    phone = PhoneScript(SEAT_PHONE, answer_after=0.5, hangup_after=3.0)
    async with running_stack(
        tmp_path, empty_dsn, phones=[phone], sim_options=citizen(answer_after=1.0)
    ) as stack:
        token = await stack.login("1001", "s01")
        status, body = await stack.api(
            "POST", "/api/agents/me/dial", token=token, json={"number": "00441234567"}
        )
        assert status == 403 and body["error"] == "dial_refused", body
        assert body["message"] == "this number may not be dialled (international)"
        status, body = await stack.api(
            "POST", "/api/agents/me/dial", token=token, json={"number": "138 1234 5678"}
        )
        assert status == 200, body
        assert body["number"] == CITIZEN and body["presented_number"] == "12345"
        call_id = body["call_id"]
        status, again = await stack.api(
            "POST", "/api/agents/me/dial", token=token, json={"number": CITIZEN}
        )
        assert status == 409 and again["error"] == "busy", again
        (call,) = await stack.wait_ended(1)
        assert call.call_id == call_id
        row = await stack.call_row(call_id)
        assert row["outcome"] == "answered" and row["hangup_by"] == "agent"
        assert row["tags"]["direction"] == "outbound"
        (ring,) = stack.requests("POST", "/channels")
        assert ring.params["endpoint"] == "PJSIP/8001"
        assert ring.params["appArgs"] == f"agent,{call_id},1001"
        (create,) = created(stack)
        assert create.params["endpoint"] == f"PJSIP/{CITIZEN}@carrier"
        assert create.params["originator"] == ring.params["channelId"]
        assert ring.at <= create.at  # the seat first, the citizen once the agent answered
        rows = await stack.db.fetch("SELECT actor FROM audit_log WHERE action = 'dial_refused'")
        assert [r["actor"] for r in rows] == ["1001"]


async def _missed_call(stack: Any) -> str:
    """A caller overflows with nobody logged in: the key of their callback entry."""
    stack.sim.place_call(CallerScript(number=CITIZEN, name="市民"))
    (missed,) = await stack.wait_ended(1)
    await stack.flushed()

    async def listed() -> Any:
        row = await stack.db.fetchrow("SELECT key FROM callback_entries WHERE number = $1", CITIZEN)
        return row["key"] if row is not None else None

    key: str = await eventually(listed, timeout=10)
    stack.ended.clear()
    return key + "|" + missed.call_id


async def test_a_callback_called_from_the_list_reaches_the_citizen(
    tmp_path: Path, empty_dsn: str
) -> None:
    patches = {"outbound.yaml": no_quiet_hours, "queues.yaml": short_wait}
    phone = PhoneScript(SEAT_PHONE, answer_after=0.5, hangup_after=2.0)
    async with running_stack(
        tmp_path, empty_dsn, patches=patches, phones=[phone], sim_options=citizen(answer_after=1.0)
    ) as stack:
        key, missed_id = (await _missed_call(stack)).split("|")
        token = await stack.login("1001", "s01")
        status, body = await stack.api("POST", f"/api/callbacks/{key}/call", token=token)
        assert status == 200, body
        assert body["callback"] == key and body["number"] == CITIZEN
        (call,) = await stack.wait_ended(1, timeout=30)
        assert call.call_id == body["call_id"]
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "answered"
        assert row["tags"]["callback"] == key and row["tags"]["missed_call_id"] == missed_id
        kinds = [r["kind"] for r in await stack.timeline(call.call_id)]
        assert "survey_started" in kinds or "not_rated" in kinds or "rated" in kinds

        async def attempt() -> Any:
            return await stack.db.fetchrow(
                "SELECT e.status, a.outcome, a.agent, a.call_id FROM callback_entries e"
                " JOIN callback_attempts a USING (key) WHERE key = $1",
                key,
            )

        done = await eventually(attempt, timeout=10)
        assert dict(done) == {
            "status": "done", "outcome": "reached", "agent": "1001", "call_id": call.call_id,
        }  # fmt: skip
        tickets = stack.backend.tickets
        await stack.backend.wait_until(
            lambda: any(t.body["call_id"] == call.call_id for t in tickets.values()), timeout=15
        )
        (ticket,) = [t for t in tickets.values() if t.body["call_id"] == call.call_id]
        assert ticket.body["kind"] == "callback"
        assert ticket.body["tags"]["missed_call_id"] == missed_id
        assert ticket.body["callback_number"] == CITIZEN


async def test_a_busy_callback_keeps_the_entry_for_the_next_attempt(
    tmp_path: Path, empty_dsn: str
) -> None:
    patches = {"outbound.yaml": no_quiet_hours, "queues.yaml": short_wait}
    phone = PhoneScript(SEAT_PHONE, answer_after=0.5)
    async with running_stack(
        tmp_path, empty_dsn, patches=patches, phones=[phone], sim_options=citizen(busy=True)
    ) as stack:
        key, _ = (await _missed_call(stack)).split("|")
        token = await stack.login("1001", "s01")
        status, body = await stack.api("POST", f"/api/callbacks/{key}/call", token=token)
        assert status == 200, body
        (call,) = await stack.wait_ended(1, timeout=30)
        assert (await stack.call_row(call.call_id))["outcome"] == "busy"

        async def attempt() -> Any:
            row = await stack.db.fetchrow(
                "SELECT e.status, a.outcome FROM callback_entries e"
                " JOIN callback_attempts a USING (key) WHERE key = $1",
                key,
            )
            return row if row is not None and row["outcome"] is not None else None

        assert dict(await eventually(attempt, timeout=10)) == {
            "status": "pending",
            "outcome": "busy",
        }


async def test_a_progressive_queue_rings_a_free_agent_then_the_citizen(
    tmp_path: Path, empty_dsn: str
) -> None:
    def progressive(data: Any) -> None:
        no_quiet_hours(data)
        data["queues"]["general"] = "progressive"

    patches = {"outbound.yaml": progressive, "queues.yaml": short_wait}
    phone = PhoneScript(SEAT_PHONE, answer_after=0.5, hangup_after=2.0)
    async with running_stack(
        tmp_path, empty_dsn, patches=patches, phones=[phone], sim_options=citizen(answer_after=1.0)
    ) as stack:
        key, missed_id = (await _missed_call(stack)).split("|")
        # Nobody asks: the free agent's phone rings, then the citizen's.
        await stack.login("1001", "s01")
        (call,) = await stack.wait_ended(1, timeout=30)
        row = await stack.call_row(call.call_id)
        assert row["outcome"] == "answered" and row["first_agent"] == "1001"
        assert row["tags"]["callback"] == key and row["tags"]["missed_call_id"] == missed_id
        (ring,) = stack.requests("POST", "/channels")
        assert ring.params["endpoint"] == "PJSIP/8001"
        (create,) = created(stack)
        assert ring.at <= create.at

        async def attempt() -> Any:
            return await stack.db.fetchrow(
                "SELECT e.status, a.outcome, a.agent FROM callback_entries e"
                " JOIN callback_attempts a USING (key) WHERE key = $1 AND a.outcome IS NOT NULL",
                key,
            )

        done = await eventually(attempt, timeout=10)
        assert dict(done) == {"status": "done", "outcome": "reached", "agent": "1001"}


async def test_a_call_out_is_three_wayed_to_a_parallel_line_and_handed_over(
    tmp_path: Path, empty_dsn: str
) -> None:
    line = RemoteScript(number="12319", trunk="hotline-12319", answer_after=0.5, hangup_after=20)
    remotes = (RemoteScript(CITIZEN, trunk="carrier", answer_after=0.5), line)
    phone = PhoneScript(SEAT_PHONE, answer_after=0.3)
    async with running_stack(
        tmp_path, empty_dsn, phones=[phone], sim_options={"remotes": remotes}
    ) as stack:
        token = await stack.login("1001", "s01")
        status, body = await stack.api(
            "POST", "/api/agents/me/dial", token=token, json={"number": CITIZEN}
        )
        assert status == 200, body
        call_id = body["call_id"]

        def talking() -> bool:
            view = stack.engine.calls.get(call_id)
            return view is not None and view.public_state == "talking"

        await stack.sim.wait_for(talking, timeout=10, what="the citizen answers")
        view = stack.engine.calls[call_id]
        path = f"/api/calls/{call_id}/transfer"
        target = {"kind": "line", "ref": "city_management"}
        status, started = await stack.api(
            "POST", path, token=token, json={"mode": "three_way", "target": target}
        )
        assert status == 201, started
        plan = stack.engine.transfers.latest(call_id)
        await stack.sim.wait_for(lambda: plan.public_state == "conference", what="conference")
        await stack.engine.drain()
        status, left = await stack.api("POST", path + "/leave", token=token)
        assert status == 200 and left["state"] == "handed_over", left
        await stack.sim.wait_for(lambda: view.public_state == "handed_off", what="handed off")
        await stack.engine.drain()
        bridge = await stack.engine.pbx.ari.bridges.get(view.bridge_id)
        assert set(bridge.channels) == {view.caller_channel, started["leg"]}
        assert stack.engine.current_call_of("1001") is None
        (call,) = await stack.wait_ended(1, timeout=30)
        row = await stack.call_row(call.call_id)
        assert row["tags"]["direction"] == "outbound" and row["first_agent"] == "1001"
        kinds = [r["kind"] for r in await stack.timeline(call_id)]
        assert "answered" in kinds and "ended" in kinds

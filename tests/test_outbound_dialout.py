"""The create-and-dial primitive: ``DialOut`` as the executor carries and reads it.

The recorded Asterisk session ``create_then_dial_answer_busy_timeout.jsonl``
replayed through :class:`~cti.executor.translate.DialOuts`: answered, busy,
and a dial timeout (no ``Dial`` NOANSWER, only ``ChannelDestroyed`` cause 19).
"""

from __future__ import annotations

import pytest

from cti.ari.events import parse_event
from cti.executor.carry import caller_id_variables
from cti.executor.translate import DialOuts, cause_verdict, translate
from switchboard import events as ev
from switchboard.ids import CallId, ChannelId
from tests.bridge_support import transcript

pytestmark = pytest.mark.outbound


def _replay(dial_outs: DialOuts) -> list[ev.Event]:
    out: list[ev.Event] = []
    for record in transcript("create_then_dial_answer_busy_timeout.jsonl"):
        if record["dir"] != "ari-ws":
            continue
        item = parse_event(record["event"])
        if dial_outs.concerns(item):
            event = dial_outs.translate(item)
            if event is not None:
                out.append(event)
    return out


def test_the_recorded_answer_busy_and_timeout_become_the_switchboard_events() -> None:
    dial_outs = DialOuts()
    for n in (1, 2, 3):
        dial_outs.placed(ChannelId(f"out-{n}"), CallId(f"c-{n}"))
    assert _replay(dial_outs) == [
        ev.OutboundAnswered(ChannelId("out-1"), CallId("c-1")),
        ev.LegDialed(ChannelId("out-2"), ev.DialStatus.BUSY),
        ev.LegDialed(ChannelId("out-3"), ev.DialStatus.NOANSWER),
    ]
    assert len(dial_outs) == 0


def test_legs_not_placed_are_left_to_the_ordinary_translation() -> None:
    dial_outs = DialOuts()
    assert _replay(dial_outs) == []
    # The ordinary translation sees the busy verdict but no answer and no timeout.
    seen = []
    for record in transcript("create_then_dial_answer_busy_timeout.jsonl"):
        if record["dir"] == "ari-ws":
            event = translate(parse_event(record["event"]), lambda: CallId("c-new"))
            if isinstance(event, ev.LegDialed | ev.OutboundAnswered):
                seen.append(event)
    assert seen == [ev.LegDialed(ChannelId("out-2"), ev.DialStatus.BUSY)]


def test_a_settled_leg_is_no_longer_followed() -> None:
    dial_outs = DialOuts()
    dial_outs.placed(ChannelId("out-2"), CallId("c-2"))
    assert dial_outs.settled(ChannelId("out-2"))
    assert not dial_outs.settled(ChannelId("out-2"))
    assert _replay(dial_outs) == []


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        (17, ev.DialStatus.BUSY),
        (19, ev.DialStatus.NOANSWER),
        (18, ev.DialStatus.NOANSWER),
        (34, ev.DialStatus.CONGESTION),
        (16, ev.DialStatus.CANCEL),
        (1, ev.DialStatus.CHANUNAVAIL),
        (None, ev.DialStatus.CHANUNAVAIL),
    ],
)
def test_the_cause_of_a_dial_that_ended_unanswered(
    cause: int | None, status: ev.DialStatus
) -> None:
    assert cause_verdict(cause) is status


def test_the_presented_number_rides_in_callerid_and_connected_line_variables() -> None:
    # PJSIP's From and P-Asserted-Identity come from the connected line (tests/asterisk).
    assert caller_id_variables("12345") == {
        "CALLERID(num)": "12345",
        "CONNECTEDLINE(num,i)": "12345",
    }
    assert caller_id_variables('"南通12345" <12345>') == {
        "CALLERID(num)": "12345",
        "CONNECTEDLINE(num,i)": "12345",
        "CALLERID(name)": "南通12345",
        "CONNECTEDLINE(name,i)": "南通12345",
    }
    assert caller_id_variables("") == {}

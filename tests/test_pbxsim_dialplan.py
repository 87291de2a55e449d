"""pbxsim runs the dialplan it is given: the shipped extensions.conf by default.

What happens after a call leaves the application (``POST .../continue``), and
what happens to a call that arrives while no engine is connected (the
engine-down fallback of ``asterisk-conf/extensions.conf``), is decided by the
dialplan file itself, as on Asterisk.  The same fallback is held against a
real Asterisk by ``tests/asterisk/test_fallback.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxsim import CallerScript, PbxSim
from pbxsim.dialplan import SHIPPED_DIALPLAN, DialplanError, Plan, evaluate, substitute
from tests.support.sim import AmiProbe, AriProbe, running_sim

pytestmark = pytest.mark.fidelity

SERVED = "12345"
UNSERVED = "66668888"


def heard(sim: PbxSim, channel_id: str, what: str) -> list[str]:
    return [detail for kind, detail in sim.channel_log(channel_id).heard if kind == what]


# -- the file --------------------------------------------------------------------


def test_the_shipped_dialplan_reads_as_asterisk_reads_it() -> None:
    plan = Plan.load(SHIPPED_DIALPLAN)
    # extensions_dids.conf is included inside [from-carrier]: the served numbers.
    served = plan.step("from-carrier", SERVED, 1)
    assert served is not None and (served.app, served.data) == ("Set", "HOTLINE_DID=served")
    # Any other number falls to the pattern _X.
    other = plan.step("from-carrier", UNSERVED, 1)
    assert other is not None and other.data == "HOTLINE_DID=unknown"
    assert plan.step("hotline-inbound", SERVED, 1) == plan.step("hotline-inbound", "999", 1)
    assert plan.label("from-seats", "8001", "down") == 4
    assert plan.label("hotline-engine-down", SERVED, "unknown") == 9
    assert plan.globals["FALLBACK_QUEUE"] == "hotline-fallback"
    assert plan.step("hotline-legs", "agent", 2) is not None
    assert plan.extension("hotline-legs", "nobody") is None


def test_patterns_labels_includes_and_errors(tmp_path: Path) -> None:
    (tmp_path / "more.conf").write_text("exten => 7,1,NoOp(included)\n", encoding="utf-8")
    main = tmp_path / "extensions.conf"
    main.write_text(
        "[general]\nstatic = yes\n"
        "[a]\n"
        "exten => _1XX,1,NoOp(three) ; a comment\n"
        "exten => _1.,1,NoOp(open)\n"
        "exten => 123,1,NoOp(exact)\n"
        " same => n(there),Wait(1)\n"
        "exten => _[2-3]!,1,NoOp(class)\n"
        '#include "more.conf"\n'
        "#tryinclude missing.conf\n"
        "include => b\n"
        "[b]\n"
        "exten => _9N,1,NoOp(from b)\n",
        encoding="utf-8",
    )
    plan = Plan.load(main)

    def data(exten: str) -> str | None:
        step = plan.step("a", exten, 1)
        return step.data if step else None

    assert data("123") == "exact"
    assert data("199") == "three"
    assert data("1999") == "open"
    assert data("1") is None
    assert data("2") == "class"
    assert data("7") == "included"
    assert data("92") == "from b"
    assert data("91") is None
    assert plan.label("a", "123", "there") == 2

    (tmp_path / "bad.conf").write_text('#include "absent.conf"\n', encoding="utf-8")
    with pytest.raises(DialplanError, match=r"absent\.conf"):
        Plan.load(tmp_path / "bad.conf")
    with pytest.raises(DialplanError, match=":2: bad priority"):
        Plan.parse("[a]\nexten => 1,first,NoOp()\n", "x.conf")
    with pytest.raises(DialplanError, match="outside any"):
        Plan.parse("exten => 1,1,NoOp()\n")


def test_substitution_and_expressions() -> None:
    values = {"STASISSTATUS": "FAILED", "HOTLINE_DID": "served", "N": "5", "EXTEN": "12345"}

    def expand(text: str) -> str:
        return substitute(text, lambda name: values.get(name, ""))

    assert expand('$["${STASISSTATUS}" = "FAILED"]') == "1"
    assert expand('$["${HOTLINE_DID}" != "served"]') == "0"
    assert expand('$["${MISSING}" = ""]') == "1"
    assert expand("$[${N} + 2]") == "7"
    assert expand("$[${N} > 10 | ${N} = 5]") == "1"
    assert expand("${EXTEN:1}") == "2345"
    assert expand("${EXTEN:0:3}") == "123"
    assert expand("x${${MISSING}}y") == "xy"
    assert evaluate("!0") == "1"


# -- engine down -------------------------------------------------------------------


async def test_engine_down_a_served_number_goes_to_the_fallback() -> None:
    """No WebSocket: Stasis() fails and the shipped fallback takes the call: the
    prompt, the plain queue for FALLBACK_QUEUE_WAIT, then voicemail."""
    async with running_sim() as sim:
        call = sim.place_call(CallerScript(number="13800138000", dialled=SERVED))
        log = await sim.wait_for(lambda: sim.call_log(call), 2.0)
        await sim.wait_for(lambda: ("voicemail", "12345@hotline") in log.heard, 10.0)
        assert ("stasis_failed", "hotline") in log.heard
        assert log.answered
        assert log.media_played == [
            "sound:hotline/zh/transfer-to-agent",
            "sound:hotline/zh/voicemail-intro",
        ]
        assert ("queue", "hotline-fallback") in log.heard
        channel = sim.world.channels[call.channel_id or ""]
        assert channel.variables["STASISSTATUS"] == "FAILED"
        assert channel.variables["HOTLINE_DID"] == "served"
        assert channel.variables["QUEUESTATUS"] == "TIMEOUT"
        assert (channel.dialplan.context, channel.dialplan.app_name) == (
            "hotline-engine-down",
            "VoiceMail",
        )
        assert sim.hangup_call(call)
        assert log.destroyed and log.hangup_by == "remote"


async def test_engine_down_an_unserved_number_hears_not_in_service() -> None:
    async with running_sim() as sim:
        call = sim.place_call(CallerScript(number="13800138000", dialled=UNSERVED))
        log = await sim.wait_for(lambda: sim.call_log(call), 2.0)
        await sim.wait_for(lambda: log.destroyed, 5.0)
        assert log.media_played == ["sound:hotline/zh/not-in-service"]
        assert (log.answered, log.hangup_by, log.hangup_cause) == (True, "dialplan", 16)
        assert ("queue", "hotline-fallback") not in log.heard


async def test_a_changed_dialplan_is_the_one_that_runs(tmp_path: Path) -> None:
    changed = tmp_path / "extensions.conf"
    changed.write_text(
        SHIPPED_DIALPLAN.read_text(encoding="utf-8")
        .replace("hotline/zh/not-in-service", "hotline/zh/closed-today")
        .replace('#include "extensions_dids.conf"', "")
        .replace("#tryinclude", ";"),
        encoding="utf-8",
    )
    async with running_sim(dialplan=changed) as sim:
        call = sim.place_call(CallerScript(number="13800138000", dialled=SERVED))
        log = await sim.wait_for(lambda: sim.call_log(call), 2.0)
        await sim.wait_for(lambda: log.destroyed, 5.0)
        # Without the DID list, 12345 is no longer served.
        assert log.media_played == ["sound:hotline/zh/closed-today"]


# -- leaving the application ----------------------------------------------------------


async def test_continue_goes_on_at_the_next_priority() -> None:
    """hotline-inbound: Stasis, then GotoIf (not FAILED), then Hangup()."""
    async with running_sim() as sim, AriProbe(sim) as ari:
        call = sim.place_call(CallerScript(number="13800138000", dialled=SERVED))
        start = await ari.event("StasisStart")
        channel_id = start["channel"]["id"]
        assert start["channel"]["dialplan"]["context"] == "hotline-inbound"
        assert start["args"] == ["inbound", SERVED, ""]
        await ari.request("POST", f"/channels/{channel_id}/answer")
        assert (await ari.request("POST", f"/channels/{channel_id}/continue")).status == 204
        await ari.event("StasisEnd")
        log = sim.channel_log(channel_id)
        await sim.wait_for(lambda: log.destroyed, 2.0)
        assert (log.hangup_by, log.hangup_cause) == ("dialplan", 16)
        # The application hears nothing more of a call it did not originate.
        after = ari.types(ari.events.index(await ari.event("StasisEnd")) + 1)
        assert "ChannelDestroyed" not in after
        assert sim.call_log(call) is log


async def test_continue_elsewhere_runs_that_context() -> None:
    """The engine can send a call to the fallback on purpose."""
    async with running_sim() as sim, AriProbe(sim) as ari:
        sim.place_call(CallerScript(number="13800138000", dialled=SERVED))
        start = await ari.event("StasisStart")
        channel_id = start["channel"]["id"]
        reply = await ari.request(
            "POST", f"/channels/{channel_id}/continue", context="hotline-engine-down"
        )
        assert reply.status == 204
        # extension defaults to "s" when a context is given: no such extension there.
        log = sim.channel_log(channel_id)
        await sim.wait_for(lambda: log.destroyed, 2.0)
        assert log.hangup_by == "dialplan"

        sim.place_call(CallerScript(number="13900139000", dialled=SERVED))
        start = await ari.event("StasisStart", lambda e: e["channel"]["id"] != channel_id)
        other = start["channel"]["id"]
        reply = await ari.request(
            "POST",
            f"/channels/{other}/continue",
            context="hotline-engine-down",
            extension=SERVED,
        )
        assert reply.status == 204
        await sim.wait_for(lambda: ("queue", "hotline-fallback") in sim.channel_log(other).heard)
        assert sim.world.channels[other].variables["STASISSTATUS"] == "SUCCESS"


async def test_continue_answers_as_asterisk_does_for_bad_requests() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        sim.place_call(CallerScript(number="13800138000", dialled=SERVED))
        start = await ari.event("StasisStart")
        channel_id = start["channel"]["id"]
        # An inbound channel in state Ring may be continued; a missing label is 404.
        missing = await ari.request(
            "POST", f"/channels/{channel_id}/continue", extension=SERVED, label="nowhere"
        )
        assert (missing.status, missing.body) == (
            404,
            {"message": "Requested label can not be found"},
        )
        ghost = await ari.request("POST", "/channels/ghost/continue")
        assert ghost.status == 404
        sim.place_call(CallerScript(number="13900139000", dialled=SERVED))
        # A label names the priority: from-seats' "down" label runs the refusal.
        start = await ari.event("StasisStart", lambda e: e["channel"]["id"] != channel_id)
        other = start["channel"]["id"]
        reply = await ari.request(
            "POST",
            f"/channels/{other}/continue",
            context="from-seats",
            extension="8001",
            label="down",
        )
        assert reply.status == 204
        log = sim.channel_log(other)
        await sim.wait_for(lambda: log.destroyed, 5.0)
        assert log.media_played == ["sound:hotline/zh/not-in-service"]


async def test_each_priority_is_announced_over_ami() -> None:
    """AMI ``Newexten`` for every priority run, as pbx.c raises it."""
    async with running_sim() as sim:
        ami = await AmiProbe.open(sim)
        try:
            await ami.login()
            call = sim.place_call(CallerScript(number="13800138000", dialled=UNSERVED))
            log = await sim.wait_for(lambda: sim.call_log(call), 2.0)
            await sim.wait_for(lambda: log.destroyed, 5.0)
            await ami.until(lambda f: f.get("Event") == "Hangup")
            steps = [
                (f["Context"], f["Priority"], f["Application"])
                for f in ami.frames
                if f.get("Event") == "Newexten"
            ]
            assert steps == [
                ("from-carrier", "1", "Set"),
                ("from-carrier", "2", "Goto"),
                ("hotline-inbound", "1", "Stasis"),
                ("hotline-inbound", "2", "GotoIf"),
                ("hotline-engine-down", "1", "Log"),
                ("hotline-engine-down", "2", "GotoIf"),
                ("hotline-engine-down", "9", "Answer"),
                ("hotline-engine-down", "10", "Playback"),
                ("hotline-engine-down", "11", "Hangup"),
            ]
        finally:
            await ami.close()


async def test_continue_from_a_bridge_leaves_it_first() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        sim.place_call(CallerScript(number="13800138000", dialled=SERVED))
        start = await ari.event("StasisStart")
        channel_id = start["channel"]["id"]
        await ari.request("POST", f"/channels/{channel_id}/answer")
        await ari.request("POST", "/bridges/br-1", type="mixing")
        await ari.request("POST", "/bridges/br-1/addChannel", channel=channel_id)
        await ari.event("ChannelEnteredBridge")
        mark = len(ari.events)
        assert (await ari.request("POST", f"/channels/{channel_id}/continue")).status == 204
        await ari.event("StasisEnd", start=mark)
        assert [t for t in ari.types(mark) if t in ("ChannelLeftBridge", "StasisEnd")] == [
            "ChannelLeftBridge",
            "StasisEnd",
        ]
        assert (await ari.request("GET", "/bridges/br-1")).body["channels"] == []


WALK = """
[first]
exten => h,1,NoOp()
exten => _.,1,UserEvent(Lost)
exten => s,1,Answer()
 same => 2,Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
 same => 3,Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
 same => 4,UserEvent(Lost)
 same => 5,Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
 same => 6(red),Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
exten => other,1,Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
 same => n(blue),Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
[second]
exten => s,1,Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
 same => n,UserEvent(Lost)
 same => n(green),Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
exten => far,1,Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
 same => 7(gold),Stasis(hotline,${EXTEN}@${CONTEXT}:${PRIORITY})
"""

# (what POST .../continue is given, where the call enters Stasis next)
STEPS: list[tuple[dict[str, str], str]] = [
    ({}, "s@first:3"),  # nothing given: the next priority
    ({"priority": "5"}, "s@first:5"),
    ({"label": "red"}, "s@first:6"),
    ({"priority": "2", "label": "6"}, "s@first:6"),  # a label wins over a priority
    ({"extension": "other"}, "other@first:1"),
    ({"extension": "other", "label": "blue"}, "other@first:2"),
    ({"context": "second"}, "s@second:1"),  # a context alone: extension s, priority 1
    ({"context": "second", "label": "green"}, "s@second:3"),
    ({"context": "second", "extension": "far", "priority": "7"}, "far@second:7"),
    ({"context": "second", "extension": "far", "label": "gold"}, "far@second:7"),
]


async def test_continue_lands_where_asterisk_lands(tmp_path: Path) -> None:
    """Each combination of context, extension, priority and label, as
    ``ast_ari_channels_continue_in_dialplan`` resolves it."""
    dialplan = tmp_path / "extensions.conf"
    dialplan.write_text(WALK, encoding="utf-8")
    async with running_sim(dialplan=dialplan, carrier_context="first") as sim, AriProbe(sim) as ari:
        sim.place_call(CallerScript(number="13800138000", dialled="s"))
        start = await ari.event("StasisStart")
        assert start["args"] == ["s@first:2"]
        channel_id = start["channel"]["id"]
        for given, expected in STEPS:
            mark = len(ari.events)
            reply = await ari.request("POST", f"/channels/{channel_id}/continue", **given)
            assert reply.status == 204, (given, reply.body)
            start = await ari.event("StasisStart", start=mark)
            assert start["args"] == [expected], given


LANDINGS = """
[default]
exten => spot,1,Set(HERE=${EXTEN}@${CONTEXT}:${PRIORITY})
 same => n,GotoIf($["${HERE}" = "${EXPECT}"]?good:bad)
 same => n(good),UserEvent(Landed,where: ${HERE})
 same => n,Hangup()
 same => n(bad),UserEvent(Astray,where: ${HERE})
 same => 6(mark),Set(HERE=${EXTEN}@${CONTEXT}:${PRIORITY})
 same => n,ExecIf($["${HERE}" = "${EXPECT}"]?UserEvent(Landed,where: ${HERE}):UserEvent(Astray))
 same => n,Hangup()
[other]
exten => spot,1,Set(HERE=${EXTEN}@${CONTEXT}:${PRIORITY})
 same => n,ExecIf($["${HERE}" = "${EXPECT}"]?UserEvent(Landed,where: ${HERE}):UserEvent(Astray))
 same => n,Hangup()
"""


async def test_an_origination_to_the_dialplan_lands_where_asked_and_stays_unheard(
    tmp_path: Path,
) -> None:
    """POST /channels with an extension: context (default ``default``), priority and
    label as Asterisk resolves them; the application hears nothing of such a leg."""
    dialplan = tmp_path / "extensions.conf"
    dialplan.write_text(LANDINGS, encoding="utf-8")
    cases = [
        ({}, "spot@default:1"),
        ({"priority": "6"}, "spot@default:6"),
        ({"label": "mark"}, "spot@default:6"),
        ({"priority": "1", "label": "6"}, "spot@default:6"),
        ({"context": "other"}, "spot@other:1"),
    ]
    async with running_sim(dialplan=dialplan) as sim, AriProbe(sim) as ari:
        ami = await AmiProbe.open(sim)
        try:
            await ami.login()
            for given, expected in cases:
                body = {"variables": {"EXPECT": expected}}
                reply = await ari.request(
                    "POST", "/channels", endpoint="PJSIP/8001", extension="spot", json=body, **given
                )
                assert reply.status == 200, reply.body
                event = await ami.until(lambda f: f.get("Event") == "UserEvent")
                assert (event["UserEvent"], event.get("where")) == ("Landed", expected), given
            missing = await ari.request(
                "POST", "/channels", endpoint="PJSIP/8001", extension="spot", label="nowhere"
            )
            assert (missing.status, missing.body) == (
                404,
                {"message": "Requested label can not be found"},
            )
        finally:
            await ami.close()
        assert ari.events == []


HANGUP_EXTENSION = """
[waiting]
exten => s,1,Answer()
 same => n,Wait(600)
exten => h,1,Set(GONE=${EXTEN}@${CONTEXT})
 same => n,UserEvent(Gone,from: ${GONE})
 same => n,Wait(5)
 same => n,UserEvent(Never)
[catchall]
exten => _.,1,UserEvent(Caught,exten: ${EXTEN})
exten => s,1,Wait(600)
"""


async def test_the_h_extension_runs_when_the_call_ends(tmp_path: Path) -> None:
    """pbx.c runs ``h`` of the context a call was in when it ended (a pattern that
    matches ``h`` counts); what would wait for media ends it."""
    dialplan = tmp_path / "extensions.conf"
    dialplan.write_text(HANGUP_EXTENSION, encoding="utf-8")
    for context, expected in (
        ("waiting", [("Gone", "from", "h@waiting")]),
        ("catchall", [("Caught", "exten", "h")]),
    ):
        async with running_sim(dialplan=dialplan, carrier_context=context) as sim:
            ami = await AmiProbe.open(sim)
            try:
                await ami.login()
                call = sim.place_call(CallerScript(number="13800138000", dialled="s"))
                log = await sim.wait_for(lambda c=call: sim.call_log(c), 2.0)
                await ami.until(
                    lambda f: f.get("Event") == "Newexten" and f["Application"] == "Wait"
                )
                assert sim.hangup_call(call)
                await ami.until(lambda f: f.get("Event") == "Hangup")
                users = [
                    (f["UserEvent"], key, f[key])
                    for f in ami.frames
                    if f.get("Event") == "UserEvent"
                    for key in ("from", "exten")
                    if key in f
                ]
                assert users == expected, context
                assert log.destroyed
            finally:
                await ami.close()

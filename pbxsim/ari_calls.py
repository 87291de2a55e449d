"""ARI REST routes for channels and bridges (registered into ``ari_rest``'s table)."""

from __future__ import annotations

from .ari_rest import (
    Args,
    Reply,
    flag,
    hangup_cause,
    integer,
    many,
    no_content,
    not_implemented,
    ok,
    originate,
    required,
    route,
    text,
    variables_of,
)
from .errors import AriError
from .world import World

P = dict[str, str]

# -- channels --------------------------------------------------------------------


@route("GET", "/channels")
def channels(w: World, p: P, a: Args) -> Reply:
    return ok([c.to_json() for c in w.channels.values()])


@route("POST", "/channels")
def channel_originate(w: World, p: P, a: Args) -> Reply:
    return originate(w, a, None)


@route("POST", "/channels/{channelId}")
def channel_originate_with_id(w: World, p: P, a: Args) -> Reply:
    return originate(w, a, p["channelId"])


@route("POST", "/channels/create")
def channel_create(w: World, p: P, a: Args) -> Reply:
    variables, reported = variables_of(a)
    if text(a, "originator") and text(a, "formats"):
        raise AriError(400, "Originator and formats can't both be specified")
    endpoint = required(a, "endpoint", "Endpoint must be specified")
    app = text(a, "app")
    args = text(a, "appArgs").split(",") if text(a, "appArgs") else []
    channel = w.create(
        endpoint,
        app=app,
        args=args,
        channel_id=text(a, "channelId") or None,
        other_id=text(a, "otherChannelId") or None,
        variables=variables,
        reported=reported,
    )
    reply = ok(channel.to_json())
    delay = w.config.create_entry_delay
    if delay > 0:
        # Asterisk 22 answers before the channel has entered the application.
        reply.after.append(
            lambda: channel.timers.append(
                w.clock.call_later(delay, lambda: w.start_created(channel, app, args))
            )
        )
    else:
        reply.after.append(lambda: w.start_created(channel, app, args))
    return reply


@route("POST", "/channels/{channelId}/dial")
def channel_dial(w: World, p: P, a: Args) -> Reply:
    channel = w.find_control(p["channelId"])
    w.dial(channel, integer(a, "timeout", 0))
    reply = no_content()
    reply.after.append(lambda: w.start_dial(channel))
    return reply


@route("GET", "/channels/{channelId}")
def channel_get(w: World, p: P, a: Args) -> Reply:
    return ok(w.channel(p["channelId"]).to_json())


@route("DELETE", "/channels/{channelId}")
def channel_hangup(w: World, p: P, a: Args) -> Reply:
    channel = w.channel(p["channelId"])
    cause = hangup_cause(a)
    w.hangup(channel, cause=cause, source="api")
    return no_content()


@route("POST", "/channels/{channelId}/answer")
def channel_answer(w: World, p: P, a: Args) -> Reply:
    w.answer(w.controlled(p["channelId"]))
    return no_content()


@route("POST", "/channels/{channelId}/ring")
def channel_ring(w: World, p: P, a: Args) -> Reply:
    channel = w.controlled(p["channelId"])
    channel.ringing = True
    channel.log.hear("ringing")
    return no_content()


@route("DELETE", "/channels/{channelId}/ring")
def channel_ring_stop(w: World, p: P, a: Args) -> Reply:
    channel = w.controlled(p["channelId"])
    channel.ringing = False
    channel.log.hear("ringing_stop")
    return no_content()


@route("POST", "/channels/{channelId}/progress")
def channel_progress(w: World, p: P, a: Args) -> Reply:
    w.controlled(p["channelId"]).log.hear("progress")
    return no_content()


@route("POST", "/channels/{channelId}/dtmf")
def channel_dtmf(w: World, p: P, a: Args) -> Reply:
    digits = text(a, "dtmf")
    if not digits:
        raise AriError(400, "DTMF is required")
    channel = w.controlled(p["channelId"])
    channel.log.dtmf_sent.append(digits)
    channel.log.hear("dtmf", digits)
    return no_content()


def _direction(a: Args) -> str:
    direction = text(a, "direction", "both")
    if direction not in ("both", "in", "out"):
        raise AriError(400, "Invalid direction specified")
    return direction


@route("POST", "/channels/{channelId}/mute")
def channel_mute(w: World, p: P, a: Args) -> Reply:
    direction = _direction(a)
    channel = w.controlled(p["channelId"])
    channel.muted |= {"in", "out"} if direction == "both" else {direction}
    channel.log.hear("mute", direction)
    return no_content()


@route("DELETE", "/channels/{channelId}/mute")
def channel_unmute(w: World, p: P, a: Args) -> Reply:
    direction = _direction(a)
    channel = w.controlled(p["channelId"])
    channel.muted -= {"in", "out"} if direction == "both" else {direction}
    channel.log.hear("unmute", direction)
    return no_content()


@route("POST", "/channels/{channelId}/hold")
def channel_hold(w: World, p: P, a: Args) -> Reply:
    channel = w.controlled(p["channelId"])
    channel.held = True
    channel.log.hear("hold")
    return no_content()


@route("DELETE", "/channels/{channelId}/hold")
def channel_unhold(w: World, p: P, a: Args) -> Reply:
    channel = w.controlled(p["channelId"])
    channel.held = False
    channel.log.hear("unhold")
    return no_content()


@route("POST", "/channels/{channelId}/moh")
def channel_moh(w: World, p: P, a: Args) -> Reply:
    w.start_moh(w.controlled(p["channelId"]), text(a, "mohClass"))
    return no_content()


@route("DELETE", "/channels/{channelId}/moh")
def channel_moh_stop(w: World, p: P, a: Args) -> Reply:
    w.stop_moh(w.controlled(p["channelId"]))
    return no_content()


@route("POST", "/channels/{channelId}/silence")
def channel_silence(w: World, p: P, a: Args) -> Reply:
    w.controlled(p["channelId"]).log.hear("silence")
    return no_content()


@route("DELETE", "/channels/{channelId}/silence")
def channel_silence_stop(w: World, p: P, a: Args) -> Reply:
    w.controlled(p["channelId"]).log.hear("silence_stop")
    return no_content()


def _play(w: World, kind: str, ident: str, a: Args, playback_id: str | None) -> Reply:
    if integer(a, "skipms", 3000) < 0:
        raise AriError(400, "skipms cannot be negative")
    if integer(a, "offsetms", 0) < 0:
        raise AriError(400, "offsetms cannot be negative")
    playback = w.play(
        f"{kind}:{ident}",
        many(a, "media"),
        playback_id or text(a, "playbackId") or None,
        text(a, "lang") or None,
        integer(a, "skipms", 3000),
    )
    return ok(playback.to_json(), 201)


@route("POST", "/channels/{channelId}/play")
def channel_play(w: World, p: P, a: Args) -> Reply:
    channel = w.controlled(p["channelId"])
    return _play(w, "channel", channel.id, a, None)


@route("POST", "/channels/{channelId}/play/{playbackId}")
def channel_play_with_id(w: World, p: P, a: Args) -> Reply:
    channel = w.controlled(p["channelId"])
    return _play(w, "channel", channel.id, a, p["playbackId"])


def _record(w: World, target: str, a: Args) -> Reply:
    if integer(a, "maxDurationSeconds", 0) < 0:
        raise AriError(400, "max_duration_seconds cannot be negative")
    if integer(a, "maxSilenceSeconds", 0) < 0:
        raise AriError(400, "max_silence_seconds cannot be negative")
    recording = w.record(
        target,
        name=required(a, "name", "Recording name invalid"),
        fmt=required(a, "format", "specified format is unknown on this system"),
        if_exists=text(a, "ifExists", "fail"),
        max_duration=integer(a, "maxDurationSeconds", 0),
        terminate_on=text(a, "terminateOn", "none"),
    )
    return ok(recording.to_json(), 201)


@route("POST", "/channels/{channelId}/record")
def channel_record(w: World, p: P, a: Args) -> Reply:
    channel = w.controlled(p["channelId"], state_matters=False)
    return _record(w, f"channel:{channel.id}", a)


@route("GET", "/channels/{channelId}/variable")
def channel_var_get(w: World, p: P, a: Args) -> Reply:
    name = required(a, "variable", "Variable name is required")
    channel = w.channels.get(p["channelId"])
    if channel is None:
        raise AriError(404, "Provided channel was not found")
    return ok({"value": w.read_variable(channel, name)})


@route("POST", "/channels/{channelId}/variable")
def channel_var_set(w: World, p: P, a: Args) -> Reply:
    name = required(a, "variable", "Variable name is required")
    channel = w.find_control(p["channelId"])
    w.set_channel_var(channel, name, a.get("value"), flag(a, "report_events"))
    return no_content()


@route("POST", "/channels/{channelId}/variables")
def channel_vars_set(w: World, p: P, a: Args) -> Reply:
    if "variables" not in a:
        raise AriError(400, "The 'variables' field is required")
    if p["channelId"] not in w.channels:
        raise AriError(404, "Provided channel was not found")
    channel = w.find_control(p["channelId"])
    if not isinstance(a["variables"], dict):
        raise AriError(400, "The 'variables' field must be a JSON object")
    variables, reported = variables_of(a)
    for name, value in variables.items():
        w.set_channel_var(channel, name.strip(), value, name in reported)
    return no_content()


@route("GET", "/channels/{channelId}/variables")
def channel_vars_get(w: World, p: P, a: Args) -> Reply:
    raw = a.get("variables")
    items = raw if isinstance(raw, list) else ([] if raw in (None, "") else [raw])
    names = [part for item in items for part in str(item).split(",")]
    if not names:
        raise AriError(400, "At least one variable name is required")
    channel = w.channels.get(p["channelId"])
    if channel is None:
        raise AriError(404, "Provided channel was not found")
    values: dict[str, str] = {}
    for raw_name in names:
        name = raw_name.strip()
        if not name:
            raise AriError(400, "Variable names are required")
        values[name] = w.read_variable(channel, name)
    return ok({"variables": values})


def _snoop(w: World, p: P, a: Args, snoop_id: str | None) -> Reply:
    spy, whisper = text(a, "spy", "none"), text(a, "whisper", "none")
    if spy not in ("none", "both", "out", "in"):
        raise AriError(400, "Invalid direction specified for spy")
    if whisper not in ("none", "both", "out", "in"):
        raise AriError(400, "Invalid direction specified for whisper")
    app = required(a, "app", "Application name is required")
    target = w.channel(p["channelId"])
    args = text(a, "appArgs").split(",") if text(a, "appArgs") else []
    snoop = w.snoop(
        target,
        spy=spy,
        whisper=whisper,
        app=app,
        args=args,
        snoop_id=snoop_id or text(a, "snoopId") or None,
    )
    reply = ok(snoop.to_json())
    reply.after.append(lambda: w.start_snoop(snoop, target, app, args))
    return reply


@route("POST", "/channels/{channelId}/snoop")
def channel_snoop(w: World, p: P, a: Args) -> Reply:
    return _snoop(w, p, a, None)


@route("POST", "/channels/{channelId}/snoop/{snoopId}")
def channel_snoop_with_id(w: World, p: P, a: Args) -> Reply:
    return _snoop(w, p, a, p["snoopId"])


@route("POST", "/channels/{channelId}/continue")
def channel_continue(w: World, p: P, a: Args) -> Reply:
    channel = w.controlled(p["channelId"])
    here = channel.dialplan
    context_arg, exten_arg = text(a, "context"), text(a, "extension")
    if not context_arg:
        context, exten = here.context, exten_arg or here.exten
    else:
        context, exten = context_arg, exten_arg or "s"
    label = text(a, "label")
    if label:
        digits = label.strip()
        found = int(digits) if digits.lstrip("-").isdigit() else w.plan.label(context, exten, label)
        if found is None:
            raise AriError(404, "Requested label can not be found")
        if found == 0:
            raise AriError(400, "Requested priority is illegal")
        priority = found
    elif integer(a, "priority", 0):
        priority = integer(a, "priority", 0)
    elif not context_arg and not exten_arg:
        priority = here.priority + 1  # on at the next priority
    else:
        priority = 1
    reply = no_content()

    def resume() -> None:
        if w.channels.get(channel.id) is not channel or channel.app is None:
            return
        if channel.bridge is not None:
            w.leave_bridge(channel)  # leaving the application leaves its bridge first
        w.leave_stasis(channel)
        w.run_dialplan(channel, context, exten, priority)

    reply.after.append(resume)
    return reply


@route("POST", "/channels/{channelId}/move")
def channel_move(w: World, p: P, a: Args) -> Reply:
    channel = w.controlled(p["channelId"], state_matters=False)
    app = required(a, "app", "Missing parameter app")
    args = text(a, "appArgs").split(",") if text(a, "appArgs") else []
    reply = no_content()

    def move() -> None:
        w.leave_stasis(channel)
        if not w.enter_stasis(channel, app, args):
            w.hangup(channel, source="dialplan")

    reply.after.append(move)
    return reply


@route("POST", "/channels/{channelId}/redirect")
def channel_redirect(w: World, p: P, a: Args) -> Reply:
    endpoint = required(a, "endpoint", "Required parameter 'endpoint' not provided.")
    channel = w.controlled(p["channelId"])
    tech, _, resource = endpoint.partition("/")
    if not resource:
        raise AriError(422, f"Endpoint parameter '{endpoint}' does not contain tech/resource")
    if not channel.name.startswith(f"{tech}/"):
        raise AriError(
            422,
            f"Endpoint technology '{tech}' does not match channel technology "
            f"'{channel.name.partition('/')[0]}'",
        )
    channel.log.hear("redirect", endpoint)
    reply = no_content()
    reply.after.append(lambda: w.hangup(channel, source="remote"))
    return reply


@route("GET", "/channels/{channelId}/rtp_statistics")
def channel_rtp(w: World, p: P, a: Args) -> Reply:
    w.channel(p["channelId"])
    raise AriError(404, "Channel cannot be found.")


# -- bridges ------------------------------------------------------------------------


@route("GET", "/bridges")
def bridges(w: World, p: P, a: Args) -> Reply:
    return ok([b.to_json() for b in w.bridges.values()])


@route("POST", "/bridges")
def bridge_create(w: World, p: P, a: Args) -> Reply:
    bridge = w.create_bridge(
        types=text(a, "type", "mixing"), bridge_id=text(a, "bridgeId") or None, name=text(a, "name")
    )
    return ok(bridge.to_json())


@route("POST", "/bridges/{bridgeId}")
def bridge_create_with_id(w: World, p: P, a: Args) -> Reply:
    bridge = w.create_bridge(
        types=text(a, "type", "mixing"), bridge_id=p["bridgeId"], name=text(a, "name")
    )
    return ok(bridge.to_json())


@route("GET", "/bridges/{bridgeId}")
def bridge_get(w: World, p: P, a: Args) -> Reply:
    return ok(w.bridge(p["bridgeId"]).to_json())


@route("DELETE", "/bridges/{bridgeId}")
def bridge_destroy(w: World, p: P, a: Args) -> Reply:
    w.destroy_bridge(w.bridge(p["bridgeId"]))
    return no_content()


@route("POST", "/bridges/{bridgeId}/addChannel")
def bridge_add(w: World, p: P, a: Args) -> Reply:
    bridge = w.bridge(p["bridgeId"])
    w.add_channels(
        bridge,
        many(a, "channel"),
        role=text(a, "role"),
        inhibit=flag(a, "inhibitConnectedLineUpdates"),
    )
    return no_content()


@route("POST", "/bridges/{bridgeId}/removeChannel")
def bridge_remove(w: World, p: P, a: Args) -> Reply:
    w.remove_channels(w.bridge(p["bridgeId"]), many(a, "channel"))
    return no_content()


@route("POST", "/bridges/{bridgeId}/moh")
def bridge_moh(w: World, p: P, a: Args) -> Reply:
    w.start_bridge_moh(p["bridgeId"], text(a, "mohClass"))
    return no_content()


@route("DELETE", "/bridges/{bridgeId}/moh")
def bridge_moh_stop(w: World, p: P, a: Args) -> Reply:
    w.stop_bridge_moh(p["bridgeId"])
    return no_content()


@route("POST", "/bridges/{bridgeId}/play")
def bridge_play(w: World, p: P, a: Args) -> Reply:
    return _play(w, "bridge", w.bridge(p["bridgeId"]).id, a, None)


@route("POST", "/bridges/{bridgeId}/play/{playbackId}")
def bridge_play_with_id(w: World, p: P, a: Args) -> Reply:
    return _play(w, "bridge", w.bridge(p["bridgeId"]).id, a, p["playbackId"])


@route("POST", "/bridges/{bridgeId}/record")
def bridge_record(w: World, p: P, a: Args) -> Reply:
    bridge = w.bridge(p["bridgeId"])
    return _record(w, f"bridge:{bridge.id}", a)


# -- the rest of ARI: 501 naming the operation (tests/test_pbxsim_unimplemented.py) -----

for _method, _template, _operation in (
    ("PUT", "/applications/{applicationName}/eventFilter", "filter"),
    ("GET", "/asterisk/config/dynamic/{configClass}/{objectType}/{id}", "getObject"),
    ("PUT", "/asterisk/config/dynamic/{configClass}/{objectType}/{id}", "updateObject"),
    ("DELETE", "/asterisk/config/dynamic/{configClass}/{objectType}/{id}", "deleteObject"),
    ("GET", "/asterisk/modules", "listModules"),
    ("GET", "/asterisk/modules/{moduleName}", "getModule"),
    ("POST", "/asterisk/modules/{moduleName}", "loadModule"),
    ("DELETE", "/asterisk/modules/{moduleName}", "unloadModule"),
    ("PUT", "/asterisk/modules/{moduleName}", "reloadModule"),
    ("GET", "/asterisk/logging", "listLogChannels"),
    ("POST", "/asterisk/logging/{logChannelName}", "addLog"),
    ("DELETE", "/asterisk/logging/{logChannelName}", "deleteLog"),
    ("PUT", "/asterisk/logging/{logChannelName}/rotate", "rotateLog"),
    ("GET", "/bridges/{bridgeId}/variable", "getBridgeVar"),
    ("POST", "/bridges/{bridgeId}/variable", "setBridgeVar"),
    ("GET", "/bridges/{bridgeId}/variables", "getBridgeVars"),
    ("POST", "/bridges/{bridgeId}/variables", "setBridgeVars"),
    ("POST", "/bridges/{bridgeId}/videoSource/{channelId}", "setVideoSource"),
    ("DELETE", "/bridges/{bridgeId}/videoSource", "clearVideoSource"),
    ("POST", "/channels/externalMedia", "externalMedia"),
    ("POST", "/channels/{channelId}/transfer_progress", "transfer_progress"),
    ("PUT", "/endpoints/sendMessage", "sendMessage"),
    ("POST", "/endpoints/refer", "refer"),
    ("PUT", "/endpoints/{tech}/{resource}/sendMessage", "sendMessageToEndpoint"),
    ("POST", "/endpoints/{tech}/{resource}/refer", "referToEndpoint"),
    ("POST", "/events/user/{eventName}", "userEvent"),
    ("POST", "/events/claim", "claimChannel"),
    ("GET", "/mailboxes", "list"),
    ("GET", "/mailboxes/{mailboxName}", "get"),
    ("PUT", "/mailboxes/{mailboxName}", "update"),
    ("DELETE", "/mailboxes/{mailboxName}", "delete"),
    ("GET", "/sounds", "list"),
    ("GET", "/sounds/{soundId}", "get"),
):
    not_implemented(_method, _template, _operation)

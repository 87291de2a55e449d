"""ARI REST: requests in, the world's answers out; no sockets here.

``dispatch(world, method, path, args)`` finds the route of ``path`` (the part
after ``/ari``), runs it against the world and returns a ``Reply`` with the
status and JSON body Asterisk 22 gives (``{"message": "..."}`` for errors, as
in ``res/ari/resource_*.c``).  ``args`` holds the query parameters merged with
the keys of a JSON body, which is how Asterisk reads them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .errors import AriError
from .model import HANGUP_REASONS, iso_timestamp
from .peers import Origination
from .world import World

Args = dict[str, Any]


@dataclass
class Reply:
    status: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    after: list[Callable[[], None]] = field(default_factory=list)


Handler = Callable[[World, dict[str, str], Args], Reply]
# template -> (its segments, {method: handler})
_ROUTES: dict[str, tuple[tuple[str, ...], dict[str, Handler]]] = {}


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    segments = tuple(template.strip("/").split("/"))

    def register(handler: Handler) -> Handler:
        _ROUTES.setdefault(template, (segments, {}))[1][method] = handler
        return handler

    return register


def not_implemented(method: str, template: str, operation: str) -> None:
    """An operation of the Swagger files pbxsim does not do: ``501`` naming it."""

    def handler(w: World, p: dict[str, str], a: Args) -> Reply:
        return Reply(501, {"message": f"pbxsim does not implement {operation}"})

    route(method, template)(handler)


def dispatch(world: World, method: str, path: str, args: Args) -> Reply:
    """Route ``path`` as ``res_ari.c`` does: segment by segment, an explicit name before
    a ``{parameter}``, each segment URI-decoded; the walk stops at the first empty
    segment, so ``/channels//play`` is answered by ``/channels``."""
    if len(path) > 1 and path.endswith("/"):
        return Reply(404, {"message": f"ARI URLs do not end with a slash. Try /ari{path[:-1]}"})
    segments: list[str] = []
    for raw in path.split("/")[1:]:
        if not raw:
            break
        segments.append(unquote(raw))
    found = _match(segments)
    if found is None:
        return Reply(404, {"message": "Resource not found"})
    methods, path_args = found
    handler = methods.get(method)
    if handler is None:
        return Reply(405, {"message": "Invalid method"})
    try:
        return handler(world, path_args, args)
    except AriError as exc:
        return Reply(exc.status, {"message": exc.message})


def _match(segments: list[str]) -> tuple[dict[str, Handler], dict[str, str]] | None:
    best: tuple[tuple[bool, ...], dict[str, Handler], dict[str, str]] | None = None
    for template, methods in _ROUTES.values():
        if len(template) != len(segments):
            continue
        values: dict[str, str] = {}
        wild: list[bool] = []
        for pattern, segment in zip(template, segments, strict=True):
            if pattern.startswith("{"):
                values[pattern[1:-1]] = segment
                wild.append(True)
            elif pattern == segment:
                wild.append(False)
            else:
                break
        else:
            key = tuple(wild)
            if best is None or key < best[0]:
                best = (key, methods, values)
    return None if best is None else (best[1], best[2])


# -- parameter helpers ---------------------------------------------------------


def text(args: Args, name: str, default: str = "") -> str:
    value = args.get(name, default)
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return str(value)


def integer(args: Args, name: str, default: int) -> int:
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except (TypeError, ValueError) as exc:
        raise AriError(400, f"{name} must be an integer") from exc


def flag(args: Args, name: str, default: bool = False) -> bool:
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "y", "t", "on")


def many(args: Args, name: str) -> list[str]:
    value = args.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [part for item in items for part in str(item).split(",") if part != ""]


def required(args: Args, name: str, message: str) -> str:
    value = text(args, name)
    if not value:
        raise AriError(400, message)
    return value


def variables_of(args: Args) -> tuple[dict[str, str], tuple[str, ...]]:
    """A request's ``variables`` object: values, and the names to report in events.

    Each value is a string or ``{"value": "...", "report_events": true}``
    (``json_to_ast_variables`` in ``res/ari/resource_channels.c``).
    """
    raw = args.get("variables")
    if raw is None:
        return {}, ()
    if not isinstance(raw, dict):
        raise AriError(400, "The 'variables' field must be a JSON object")
    inner = raw["variables"] if isinstance(raw.get("variables"), dict) else raw
    values: dict[str, str] = {}
    reported: list[str] = []
    for key, value in inner.items():
        if not key:
            continue
        if isinstance(value, str):
            values[str(key)] = value
            continue
        if not isinstance(value, dict):
            raise AriError(
                400,
                "Each value in 'variables' must be a string or an object with 'value' and"
                " optional 'report_events'",
            )
        if not isinstance(value.get("value"), str):
            raise AriError(
                400, "Each object value in 'variables' must include string field 'value'"
            )
        report = value.get("report_events")
        if report is not None and not isinstance(report, bool):
            raise AriError(400, "Field 'report_events' in 'variables' entries must be boolean")
        values[str(key)] = value["value"]
        if report:
            reported.append(str(key))
    return values, tuple(reported)


def ok(body: Any = None, status: int = 200) -> Reply:
    return Reply(status, body)


def no_content() -> Reply:
    return Reply(204)


# -- asterisk, applications, endpoints, device states -------------------------


@route("GET", "/asterisk/info")
def asterisk_info(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok(w.asterisk_info(many(a, "only")))


@route("GET", "/asterisk/ping")
def asterisk_ping(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok({"asterisk_id": w.config.asterisk_id, "ping": "pong", "timestamp": iso_timestamp()})


@route("GET", "/asterisk/variable")
def global_var_get(w: World, p: dict[str, str], a: Args) -> Reply:
    name = required(a, "variable", "Variable name is required")
    return ok({"value": w.global_vars.get(name, "")})


@route("POST", "/asterisk/variable")
def global_var_set(w: World, p: dict[str, str], a: Args) -> Reply:
    w.global_vars[required(a, "variable", "Variable name is required")] = text(a, "value")
    return no_content()


@route("GET", "/applications")
def applications(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok([w.application_json(name) for name in sorted(w.apps)])


def _app(w: World, name: str) -> str:
    if name not in w.apps:
        raise AriError(404, "Application not found")
    return name


@route("GET", "/applications/{applicationName}")
def application(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok(w.application_json(_app(w, p["applicationName"])))


def _event_source_exists(w: World, source: str) -> bool:
    scheme, _, ident = source.partition(":")
    if scheme == "channel":
        return ident in w.channels
    if scheme == "bridge":
        return ident in w.bridges
    if scheme == "endpoint":
        tech, _, resource = ident.partition("/")
        return tech.upper() == "PJSIP" and (not resource or resource in w.endpoints())
    if scheme == "deviceState":
        return True
    raise AriError(400, "Invalid event source URI scheme")


@route("POST", "/applications/{applicationName}/subscription")
def subscribe(w: World, p: dict[str, str], a: Args) -> Reply:
    name = _app(w, p["applicationName"])
    sources = many(a, "eventSource")
    if not sources:
        raise AriError(400, "Missing parameter eventSource")
    for source in sources:
        if not _event_source_exists(w, source):
            raise AriError(422, "Event source does not exist")
    w.apps[name].sources.update(sources)
    return ok(w.application_json(name))


@route("DELETE", "/applications/{applicationName}/subscription")
def unsubscribe(w: World, p: dict[str, str], a: Args) -> Reply:
    name = _app(w, p["applicationName"])
    sources = many(a, "eventSource")
    if not sources:
        raise AriError(400, "Missing parameter eventSource")
    for source in sources:
        _event_source_exists(w, source)
        if source not in w.apps[name].sources:
            raise AriError(422, "Event source was not subscribed to")
    w.apps[name].sources.difference_update(sources)
    return ok(w.application_json(name))


@route("GET", "/endpoints")
def endpoints(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok([w.endpoint_json(e) for e in w.endpoints()])


@route("GET", "/endpoints/{tech}")
def endpoints_of(w: World, p: dict[str, str], a: Args) -> Reply:
    if p["tech"].upper() != "PJSIP":
        raise AriError(404, f"No Endpoints found - invalid tech {p['tech']}")
    return ok([w.endpoint_json(e) for e in w.endpoints()])


@route("GET", "/endpoints/{tech}/{resource}")
def endpoint(w: World, p: dict[str, str], a: Args) -> Reply:
    if p["tech"].upper() != "PJSIP" or p["resource"] not in w.endpoints():
        raise AriError(404, "Endpoint not found")
    return ok(w.endpoint_json(p["resource"]))


@route("GET", "/deviceStates")
def device_states(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok(
        [
            {"name": k, "state": v}
            for k, v in sorted(w.device_states.items())
            if k.startswith("Stasis:")
        ]
    )


@route("GET", "/deviceStates/{deviceName}")
def device_state(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok({"name": p["deviceName"], "state": w.device_states.get(p["deviceName"], "UNKNOWN")})


@route("PUT", "/deviceStates/{deviceName}")
def device_state_set(w: World, p: dict[str, str], a: Args) -> Reply:
    name = p["deviceName"]
    if not name.startswith("Stasis:"):
        raise AriError(409, "Uncontrolled device specified")
    state = required(a, "deviceState", "Missing parameter deviceState")
    w.device_states[name] = state
    w.ami("DeviceStateChange", "call,all", Device=name, State=state)
    return no_content()


@route("DELETE", "/deviceStates/{deviceName}")
def device_state_delete(w: World, p: dict[str, str], a: Args) -> Reply:
    name = p["deviceName"]
    if not name.startswith("Stasis:"):
        raise AriError(409, "Uncontrolled device specified")
    if w.device_states.pop(name, None) is None:
        raise AriError(404, "Device name is missing")
    return no_content()


# -- playbacks -------------------------------------------------------------------


def _playback(w: World, ident: str) -> Any:
    found = w.playbacks.get(ident)
    if found is None:
        raise AriError(404, "Playback not found")
    return found


@route("GET", "/playbacks/{playbackId}")
def playback_get(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok(_playback(w, p["playbackId"]).to_json())


@route("DELETE", "/playbacks/{playbackId}")
def playback_stop(w: World, p: dict[str, str], a: Args) -> Reply:
    w.delete_playback(_playback(w, p["playbackId"]))
    return no_content()


@route("POST", "/playbacks/{playbackId}/control")
def playback_control(w: World, p: dict[str, str], a: Args) -> Reply:
    operation = required(a, "operation", "Missing operation")
    if operation not in ("restart", "pause", "unpause", "reverse", "forward"):
        raise AriError(400, f"Invalid operation {operation}")
    w.control_playback(_playback(w, p["playbackId"]), operation)
    return no_content()


# -- recordings --------------------------------------------------------------------


@route("GET", "/recordings/stored")
def stored_list(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok(w.stored_recordings())


@route("GET", "/recordings/stored/{recordingName}")
def stored_get(w: World, p: dict[str, str], a: Args) -> Reply:
    path = w.stored_recording(p["recordingName"])
    return ok({"name": p["recordingName"], "format": path.suffix.lstrip(".")})


@route("DELETE", "/recordings/stored/{recordingName}")
def stored_delete(w: World, p: dict[str, str], a: Args) -> Reply:
    w.stored_recording(p["recordingName"]).unlink()
    return no_content()


@route("GET", "/recordings/stored/{recordingName}/file")
def stored_file(w: World, p: dict[str, str], a: Args) -> Reply:
    # A Range header is ignored, as Asterisk ignores it: always the whole file.
    path = w.stored_recording(p["recordingName"])
    kind = "audio/wav" if path.suffix == ".wav" else f"audio/{path.suffix.lstrip('.')}"
    return Reply(200, raw=path.read_bytes(), content_type=kind)


@route("POST", "/recordings/stored/{recordingName}/copy")
def stored_copy(w: World, p: dict[str, str], a: Args) -> Reply:
    target = required(a, "destinationRecordingName", "Invalid destination recording name")
    return ok(w.copy_stored(p["recordingName"], target))


@route("GET", "/recordings/live/{recordingName}")
def live_get(w: World, p: dict[str, str], a: Args) -> Reply:
    return ok(w.live_recording(p["recordingName"]).to_json())


@route("DELETE", "/recordings/live/{recordingName}")
def live_cancel(w: World, p: dict[str, str], a: Args) -> Reply:
    w.finish_recording(w.live_recording(p["recordingName"]), "canceled")
    return no_content()


@route("POST", "/recordings/live/{recordingName}/stop")
def live_stop(w: World, p: dict[str, str], a: Args) -> Reply:
    w.finish_recording(w.live_recording(p["recordingName"]), "done")
    return no_content()


def _live_toggle(w: World, p: dict[str, str], a: Args) -> Reply:
    recording = w.live_recording(p["recordingName"])
    if recording.state not in ("recording", "paused"):
        raise AriError(409, "Recording not in session")
    return no_content()


for _method in ("POST", "DELETE"):
    route(_method, "/recordings/live/{recordingName}/pause")(_live_toggle)
    route(_method, "/recordings/live/{recordingName}/mute")(_live_toggle)


# -- origination helper shared by channels ------------------------------------------


def originate(w: World, a: Args, channel_id: str | None) -> Reply:
    variables, reported = variables_of(a)
    endpoint = required(a, "endpoint", "Endpoint must be specified")
    app = text(a, "app")
    extension = text(a, "extension")
    if text(a, "originator") and text(a, "formats"):
        raise AriError(400, "Originator and formats can't both be specified")
    if not app and not extension:
        raise AriError(400, "Application or extension must be specified")
    timeout = integer(a, "timeout", 30)
    context = text(a, "context") or "default"
    priority = integer(a, "priority", 0) or 1
    label = text(a, "label")
    if not app and label:
        found = (
            int(label) if label.lstrip("-").isdigit() else w.plan.label(context, extension, label)
        )
        if found is None:
            raise AriError(404, "Requested label can not be found")
        if found == 0:
            raise AriError(400, "Requested priority is illegal")
        priority = found
    origination = Origination(
        app=app or None,
        args=[x for x in text(a, "appArgs").split(",")] if text(a, "appArgs") else [],
        context=context if not app else None,
        exten=extension or None,
        priority=priority,
    )
    channel = w.originate(
        endpoint,
        channel_id=channel_id or text(a, "channelId") or None,
        caller_id=text(a, "callerId"),
        timeout=None if timeout == 0 else (float(timeout) if timeout > 0 else 0.0),
        origination=origination,
        variables=variables,
        other_id=text(a, "otherChannelId") or None,
        reported=reported,
    )
    return ok(channel.to_json())


def hangup_cause(a: Args) -> int:
    reason, code = text(a, "reason"), text(a, "reason_code")
    if reason and code:
        raise AriError(400, "The reason and reason_code can't both be specified")
    if code:
        try:
            return int(code)
        except ValueError as exc:
            raise AriError(400, "Invalid reason for hangup reason code provided") from exc
    if reason:
        if reason not in HANGUP_REASONS:
            raise AriError(400, "Invalid reason for hangup reason provided")
        return HANGUP_REASONS[reason]
    return 16

"""The ``/sim/...`` control API: drive pbxsim from another process (same port, same auth).

| method | path | body | effect |
| --- | --- | --- | --- |
| POST | /sim/calls | CallerScript dict | place a call -> ``{"id": ...}`` |
| GET | /sim/calls | | calls and their channel ids |
| POST | /sim/calls/{id}/hangup | | the caller hangs up |
| POST | /sim/calls/{id}/dtmf | ``{"digits": "1"}`` | the caller keys digits |
| PUT | /sim/phones/{endpoint} | PhoneScript dict (endpoint optional) | add or replace a phone |
| POST | /sim/phones/{endpoint}/register, /unregister, /hangup | | |
| POST | /sim/phones/{endpoint}/busy | ``{"busy": true}`` | busy outside the engine |
| PUT | /sim/remotes/{trunk}/{number} | RemoteScript dict | a party behind a trunk |
| POST | /sim/scenario | Scenario dict | load a scenario |
| POST | /sim/faults/ari-ws-drop | ``{"refuse_for": 3}`` | cut the ARI WebSockets |
| POST | /sim/faults/ami-drop | | cut the AMI connections |
| POST | /sim/faults/http | ``{"method", "path", "status", "times", "body"}`` | injected answers |
| POST | /sim/faults/recording-storage | ``{"broken": true}`` | recordings answer 500 |
| POST | /sim/restart | ``{"down_for": 1}`` | restart like Asterisk |
| GET | /sim/state | | channels, bridges, apps, phones |
| GET | /sim/requests, /sim/events | | what pbxsim received and sent (``at``: arrival time) |
| GET | /sim/channels/{id}/log | | a channel's log |

``GET /sim/events`` takes ``?type=StasisStart`` (repeatable) to keep only
those event types, and ``?timed=1`` to answer ``[{"at": emitted, "event": ...}]``
with each event's wall-clock emission time (``time.time()``), as the load
benchmark needs to measure latencies to a fraction of a millisecond.

Script errors answer 400 ``{"message": ...}``; unknown calls or phones 404.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import ScriptError
from .scripts import CallerScript, PhoneScript, RemoteScript, Scenario, from_dict

if TYPE_CHECKING:
    from .sim import PbxSim


def add_control_routes(app: web.Application, sim: PbxSim) -> None:
    async def body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        data = await request.json()
        if not isinstance(data, dict):
            raise ScriptError("body", "expected a JSON object")
        return data

    def guarded(handler: Any) -> Any:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                result = await handler(request)
            except ScriptError as exc:
                return web.json_response({"message": str(exc)}, status=400)
            except ValueError as exc:
                return web.json_response({"message": f"bad JSON: {exc}"}, status=400)
            except KeyError as exc:
                return web.json_response({"message": f"not found: {exc}"}, status=404)
            if result is None:
                return web.Response(status=204)
            return web.json_response(result)

        return run

    async def place_call(request: web.Request) -> Any:
        handle = sim.place_call(from_dict(CallerScript, await body(request)))
        return {"id": handle.id, "channel_id": handle.channel_id}

    async def list_calls(request: web.Request) -> Any:
        return [
            {
                "id": h.id,
                "channel_id": h.channel_id,
                "number": h.script.number,
                "dialled": h.script.dialled,
            }
            for h in sim.world.calls.values()
        ]

    async def hangup_call(request: web.Request) -> Any:
        return {"hung_up": sim.hangup_call(request.match_info["call"])}

    async def dtmf(request: web.Request) -> Any:
        data = await body(request)
        sim.send_dtmf(request.match_info["call"], str(data.get("digits", "")))
        return None

    async def put_phone(request: web.Request) -> Any:
        data = {"endpoint": request.match_info["endpoint"], **await body(request)}
        sim.set_phone(from_dict(PhoneScript, data))
        return None

    async def phone_action(request: web.Request) -> Any:
        endpoint, action = request.match_info["endpoint"], request.match_info["action"]
        if endpoint not in sim.world.phones:
            raise KeyError(endpoint)
        if action == "register":
            sim.register_phone(endpoint)
        elif action == "unregister":
            sim.unregister_phone(endpoint)
        elif action == "hangup":
            return {"hung_up": sim.hangup_phone(endpoint)}
        elif action == "busy":
            sim.set_phone_busy_outside(endpoint, bool((await body(request)).get("busy", True)))
        else:
            raise KeyError(action)
        return None

    async def put_remote(request: web.Request) -> Any:
        data = {
            "trunk": request.match_info["trunk"],
            "number": request.match_info["number"],
            **await body(request),
        }
        sim.set_remote(from_dict(RemoteScript, data))
        return None

    async def scenario(request: web.Request) -> Any:
        handles = sim.load_scenario(Scenario.from_dict(await body(request)))
        return {"calls": [h.id for h in handles]}

    async def ws_drop(request: web.Request) -> Any:
        data = await body(request)
        # Answer first: the socket being cut may belong to the caller of this API.
        sim.background(sim.drop_ari_websockets(float(data.get("refuse_for", 0.0))))
        return None

    async def ami_drop(request: web.Request) -> Any:
        await sim.drop_ami_connections()
        return None

    async def http_fault(request: web.Request) -> Any:
        data = await body(request)
        sim.fail_requests(
            data.get("method"),
            str(data.get("path", ".*")),
            int(data.get("status", 500)),
            data.get("times", 1),
            data.get("body"),
        )
        return None

    async def storage(request: web.Request) -> Any:
        sim.set_recording_storage_broken(bool((await body(request)).get("broken", True)))
        return None

    async def restart(request: web.Request) -> Any:
        data = await body(request)
        sim.background(sim.restart(float(data.get("down_for", 0.0))))
        return None

    async def state(request: web.Request) -> Any:
        world = sim.world
        return {
            "channels": [c.to_json() for c in world.channels.values()],
            "bridges": [b.to_json() for b in world.bridges.values()],
            "apps": {name: app.connected for name, app in world.apps.items()},
            "phones": {
                e: {"registered": e in world.registered, "state": world.device_state(e)}
                for e in world.phones
            },
            "errors": [repr(e) for e in sim.errors],
        }

    async def requests(request: web.Request) -> Any:
        return [dataclasses.asdict(r) for r in sim.requests]

    async def events(request: web.Request) -> Any:
        kinds = set(request.query.getall("type", []))
        timed = request.query.get("timed", "").lower() in ("1", "true", "yes")
        chosen = [
            r
            for r in sim.world.events
            if r.delivered and (not kinds or r.event.get("type") in kinds)
        ]
        if timed:
            return [{"at": r.at, "event": r.event} for r in chosen]
        return [r.event for r in chosen]

    async def channel_log(request: web.Request) -> Any:
        return dataclasses.asdict(sim.channel_log(request.match_info["channel"]))

    router = app.router
    router.add_post("/sim/calls", guarded(place_call))
    router.add_get("/sim/calls", guarded(list_calls))
    router.add_post("/sim/calls/{call}/hangup", guarded(hangup_call))
    router.add_post("/sim/calls/{call}/dtmf", guarded(dtmf))
    router.add_put("/sim/phones/{endpoint}", guarded(put_phone))
    router.add_post("/sim/phones/{endpoint}/{action}", guarded(phone_action))
    router.add_put("/sim/remotes/{trunk}/{number}", guarded(put_remote))
    router.add_post("/sim/scenario", guarded(scenario))
    router.add_post("/sim/faults/ari-ws-drop", guarded(ws_drop))
    router.add_post("/sim/faults/ami-drop", guarded(ami_drop))
    router.add_post("/sim/faults/http", guarded(http_fault))
    router.add_post("/sim/faults/recording-storage", guarded(storage))
    router.add_post("/sim/restart", guarded(restart))
    router.add_get("/sim/state", guarded(state))
    router.add_get("/sim/requests", guarded(requests))
    router.add_get("/sim/events", guarded(events))
    router.add_get("/sim/channels/{channel}/log", guarded(channel_log))

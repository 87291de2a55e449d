"""Every ARI operation of the Swagger files is pbxsim's, or answers 501 naming it.

``UNIMPLEMENTED`` is the list of operations pbxsim does not do.  It may only
shrink: an operation implemented comes off it (the test fails until it does),
and a new operation of the Swagger files either works or joins it here, in
the open.  Routing follows ``res_ari.c``: segment by segment, an explicit name
before a ``{parameter}``, the walk stopping at the first empty segment.
"""

from __future__ import annotations

import json
import re

import pytest

from pbxsim.ari_rest import dispatch
from tests.support.sim import AriProbe, running_sim
from tests.support.swagger import ARI_DIR

pytestmark = pytest.mark.fidelity

UNIMPLEMENTED = {
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
}

# Served by the WebSocket handler, not by the REST table.
WEBSOCKET = ("GET", "/events", "eventWebsocket")


def swagger_operations() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(ARI_DIR.glob("*.json")):
        for api in json.loads(path.read_text(encoding="utf-8")).get("apis", []):
            for operation in api["operations"]:
                found.append((operation["httpMethod"], api["path"], operation["nickname"]))
    return found


async def test_every_operation_is_served_or_named_in_a_501() -> None:
    operations = swagger_operations()
    assert len(operations) > 90 and WEBSOCKET in operations
    answered_501: set[tuple[str, str, str]] = set()
    async with running_sim() as sim:
        for method, template, nickname in operations:
            if (method, template, nickname) == WEBSOCKET:
                continue
            path = re.sub(r"\{\w+\}", "x", template)
            reply = dispatch(sim.world, method, path, {})
            message = (reply.body or {}).get("message") if isinstance(reply.body, dict) else None
            if reply.status == 501:
                assert message == f"pbxsim does not implement {nickname}", (method, template)
                answered_501.add((method, template, nickname))
            else:
                # Served: the route exists (any status but "no such resource/method").
                assert message not in ("Resource not found", "Invalid method"), (
                    method,
                    template,
                    reply.status,
                    message,
                )
    assert answered_501 == UNIMPLEMENTED


async def test_paths_are_walked_as_res_ari_walks_them() -> None:
    async with running_sim() as sim, AriProbe(sim) as ari:
        # An empty id ends the walk: POST /channels//answer is POST /channels.
        empty = await ari.request("POST", "/channels//answer")
        assert (empty.status, empty.body) == (400, {"message": "Endpoint must be specified"})
        listed = await ari.request("GET", "/channels//variable")
        assert (listed.status, listed.body) == (200, [])
        gone = await ari.request("DELETE", "/bridges//x")
        assert (gone.status, gone.body) == (405, {"message": "Invalid method"})
        slash = await ari.request("GET", "/channels/")
        assert (slash.status, slash.body) == (
            404,
            {"message": "ARI URLs do not end with a slash. Try /ari/channels"},
        )
        # An explicit name wins over a {parameter}: /channels/create is not an id.
        created = await ari.request("POST", "/channels/create", endpoint="Local/x@probe")
        assert created.status == 200
        unknown = await ari.request("GET", "/nowhere/x")
        assert (unknown.status, unknown.body) == (404, {"message": "Resource not found"})


async def test_originate_to_an_endpoint_that_does_not_exist() -> None:
    """ast_dial_prerun cannot request the channel: ``ast_ari_response_alloc_failed``."""
    async with running_sim() as sim, AriProbe(sim) as ari:
        for endpoint in ("PJSIP/9999", "SIP/8001", "PJSIP/12319@no-such-trunk"):
            reply = await ari.request("POST", "/channels", endpoint=endpoint, app="hotline")
            assert (reply.status, reply.body) == (500, {"message": "Allocation failed"}), endpoint
        bad = await ari.request("POST", "/channels", endpoint="PJSIP", app="hotline")
        assert (bad.status, bad.body) == (400, {"message": "Invalid endpoint specified"})
        created = await ari.request(
            "POST", "/channels/create", endpoint="PJSIP/9999", app="hotline"
        )
        assert (created.status, created.body) == (500, {"message": "Allocation failed"})
        assert (await ari.request("GET", "/channels")).body == []

"""pbxsim: a stand-in Asterisk speaking real ARI (HTTP + WebSocket) and AMI (TCP).

Public API (nothing else is imported from outside the package)::

    from pbxsim import PbxSim, SimConfig, CallerScript, PhoneScript, RemoteScript

    async with PbxSim(SimConfig(user="u", secret="s", time_scale=0.01,
                                phones=(PhoneScript("8001"),))) as sim:
        call = sim.place_call(CallerScript(number="13800138000", name="张三市民"))
        ...  # drive it over ARI at sim.ari_url / sim.ws_url(), AMI at sim.ami_port
        await sim.wait_for(lambda: sim.call_log(call) and sim.call_log(call).destroyed)
"""

from .config import SimConfig
from .errors import AriError, ScriptError, SimError, SimTimeout
from .model import ChannelLog
from .peers import CallHandle
from .scripts import CallerScript, DigitPress, PhoneScript, RemoteScript, Scenario
from .sim import HttpFault, PbxSim, RequestRecord

__all__ = [
    "AriError",
    "CallHandle",
    "CallerScript",
    "ChannelLog",
    "DigitPress",
    "HttpFault",
    "PbxSim",
    "PhoneScript",
    "RemoteScript",
    "RequestRecord",
    "Scenario",
    "ScriptError",
    "SimConfig",
    "SimError",
    "SimTimeout",
]

"""The engine's AMI client (phone registrations, device states, snapshots).

Import from here only: :class:`AmiClient`, its answers and typed events, the
pure frame decoder, and the errors.
"""

from cti.ami.client import AmiClient, AmiResponse
from cti.ami.errors import (
    AmiActionFailed,
    AmiActionLost,
    AmiAuthError,
    AmiError,
    AmiProtocolError,
    AmiTimeout,
    AmiUnavailable,
)
from cti.ami.events import (
    AmiEvent,
    ContactStatus,
    DeviceStateChange,
    FullyBooted,
    Hangup,
    Newchannel,
    OriginateResponse,
    PeerStatus,
    typed_event,
)
from cti.ami.frames import NEED_DATA, AmiDecoder, AmiMessage, Banner, encode_frame, parse_frame
from cti.ami.protocol import RESENDABLE_ACTIONS

__all__ = [
    "NEED_DATA",
    "RESENDABLE_ACTIONS",
    "AmiActionFailed",
    "AmiActionLost",
    "AmiAuthError",
    "AmiClient",
    "AmiDecoder",
    "AmiError",
    "AmiEvent",
    "AmiMessage",
    "AmiProtocolError",
    "AmiResponse",
    "AmiTimeout",
    "AmiUnavailable",
    "Banner",
    "ContactStatus",
    "DeviceStateChange",
    "FullyBooted",
    "Hangup",
    "Newchannel",
    "OriginateResponse",
    "PeerStatus",
    "encode_frame",
    "parse_frame",
    "typed_event",
]

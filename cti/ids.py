"""Identifiers shared across the engine.

Each is a ``NewType`` over ``str`` so that a channel id cannot be passed where
a bridge id is expected without the type checker noticing, while costing
nothing at run time.  The values are whatever Asterisk (or the engine, for
ids it chooses itself such as ``channelId`` on originate) puts on the wire.
"""

from __future__ import annotations

from typing import NewType

ChannelId = NewType("ChannelId", str)
"""An ARI channel id, e.g. ``1795302787.8`` or an id the engine chose (``agent-leg-1``)."""

BridgeId = NewType("BridgeId", str)
"""An ARI bridge id, e.g. ``br-c-0001``."""

PlaybackId = NewType("PlaybackId", str)
"""An ARI playback id, e.g. ``pb-1``."""

RecordingName = NewType("RecordingName", str)
"""The name of a live or stored ARI recording, e.g. ``c-0001``."""

CallId = NewType("CallId", str)
"""The engine's identity of one citizen call, kept through every transfer
(stored on the caller's channel as ``HOTLINE_CALL_ID``)."""

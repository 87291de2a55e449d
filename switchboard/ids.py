"""Identifiers of the switchboard: one ``NewType`` per kind of thing it names."""

from __future__ import annotations

from typing import NewType

CallId = NewType("CallId", str)
"""One citizen call, kept through its whole life (首接负责制)."""

ChannelId = NewType("ChannelId", str)
"""An Asterisk channel: the caller's, or an agent leg the switchboard originated."""

BridgeId = NewType("BridgeId", str)
"""A mixing bridge that joins a caller and an agent."""

PlaybackId = NewType("PlaybackId", str)
"""A playback on the caller's channel; unique within the switchboard."""

RecordingName = NewType("RecordingName", str)
"""The name a recording is stored under (a bridge segment or a voicemail)."""

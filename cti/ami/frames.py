"""A pure, incremental decoder of the AMI wire format (no sockets, no clock).

Theory of operation
-------------------
Asterisk opens an AMI session with one banner line
(``Asterisk Call Manager/11.0.0\\r\\n``) and then sends frames: ``Key: value``
lines separated by CRLF, each frame ended by an empty line.  A frame is a
response (its first header is ``Response``) or an event (``Event``).

Bytes go in with :meth:`AmiDecoder.receive_data` in whatever pieces TCP
delivers; :meth:`AmiDecoder.next_event` hands out one :class:`Banner` or
:class:`AmiMessage` at a time, or :data:`NEED_DATA` when no whole frame is
buffered.  Framing is done on bytes, and a frame is turned into text only once
it is whole: CR and LF never occur inside a multi-byte UTF-8 sequence, so a
caller name such as 张三市民 split inside a character by TCP still arrives
intact.  (panoramisk 1.4 decodes every TCP chunk on its own with
``errors='ignore'`` and silently drops the split character.)  Bytes that are not
valid UTF-8 are replaced by U+FFFD, never dropped, so the damage is visible.

Two quirks of real Asterisk are kept as data, not errors: a value may end with
a stray ``\\n`` (``Message: No Contacts found\\n`` in
``ami_agent_register_unregister.jsonl``), which is stripped; the legacy
``Response: Follows`` body of the ``Command`` action ends with
``--END COMMAND--`` and becomes :attr:`AmiMessage.content`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from cti.ami.errors import AmiProtocolError

CRLF = b"\r\n"
FRAME_END = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"
END_COMMAND = "--END COMMAND--"
DEFAULT_MAX_FRAME = 1 << 20


class NeedData(enum.Enum):
    NEED_DATA = "need-data"


NEED_DATA = NeedData.NEED_DATA
"""Returned by :meth:`AmiDecoder.next_event` when more bytes are needed."""


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line; ``version`` is the AMI protocol version (``11.0.0``)."""

    version: str


@dataclass(frozen=True, slots=True)
class AmiMessage:
    """One AMI frame: its headers in wire order (repeated keys kept) and the
    body of a legacy ``Response: Follows``.  Lookups ignore the key's case."""

    headers: tuple[tuple[str, str], ...]
    content: str = ""
    _index: dict[str, tuple[str, ...]] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        index: dict[str, list[str]] = {}
        for key, value in self.headers:
            index.setdefault(key.lower(), []).append(value)
        self._index.update({key: tuple(values) for key, values in index.items()})

    @property
    def is_event(self) -> bool:
        return "event" in self._index

    @property
    def is_response(self) -> bool:
        return "response" in self._index and "event" not in self._index

    @property
    def name(self) -> str:
        """The event name, or the response status (``Success``, ``Error``...)."""
        return self.get("Event") if self.is_event else self.get("Response")

    @property
    def action_id(self) -> str | None:
        values = self._index.get("actionid")
        return values[0] if values else None

    def get(self, key: str, default: str = "") -> str:
        """The first value of ``key``, or ``default`` when absent."""
        values = self._index.get(key.lower())
        return values[0] if values else default

    def get_all(self, key: str) -> tuple[str, ...]:
        """Every value of a repeated key (``ChanVariable``, ``Output``...)."""
        return self._index.get(key.lower(), ())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def __repr__(self) -> str:
        kind = "Event" if self.is_event else "Response"
        return f"<AmiMessage {kind}={self.name!r} action_id={self.action_id!r}>"


class AmiDecoder:
    """Turns a byte stream from Asterisk into banners and messages.

    ``max_frame`` bounds the bytes buffered for one frame; a peer that sends
    more without an empty line raises :class:`AmiProtocolError`.
    """

    def __init__(self, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the current frame already searched for its end
        self._max_frame = max_frame

    @property
    def pending(self) -> bytes:
        """Bytes received that do not yet make a whole frame."""
        return bytes(self._buffer)

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def next_event(self) -> Banner | AmiMessage | NeedData:
        while True:
            buffer = self._buffer
            if buffer.startswith(CRLF):
                # Stray empty lines between frames carry nothing.
                del buffer[:2]
                self._scanned = 0
                continue
            if buffer[: len(BANNER_PREFIX)] == BANNER_PREFIX[: len(buffer)]:
                line_end = buffer.find(CRLF)
                if line_end < 0:
                    return self._need_data()
                line = bytes(buffer[:line_end])
                del buffer[: line_end + 2]
                self._scanned = 0
                version = line[len(BANNER_PREFIX) :].decode("utf-8", "replace").strip()
                return Banner(version)
            end = buffer.find(FRAME_END, max(0, self._scanned - 3))
            if end < 0:
                self._scanned = len(buffer)
                return self._need_data()
            frame = bytes(buffer[:end])
            del buffer[: end + 4]
            self._scanned = 0
            return parse_frame(frame.decode("utf-8", "replace"))

    def __iter__(self) -> Iterator[Banner | AmiMessage]:
        """Every event decodable from the bytes received so far."""
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return
            assert not isinstance(event, NeedData)
            yield event

    def _need_data(self) -> NeedData:
        if len(self._buffer) > self._max_frame:
            raise AmiProtocolError(f"AMI frame larger than {self._max_frame} bytes")
        return NEED_DATA


def parse_frame(text: str) -> AmiMessage:
    """Parse the text of one whole frame (without its closing empty line)."""
    headers: list[tuple[str, str]] = []
    content: list[str] = []
    lines = text.split("\r\n")
    follows = lines[0].partition(":")[2].strip().lower() == "follows"
    for line in lines:
        if follows and line.rstrip("\r\n").endswith(END_COMMAND):
            body = line.rstrip("\r\n")[: -len(END_COMMAND)]
            content.append(body.rstrip("\n"))
            continue
        key, sep, value = line.partition(":")
        if sep and key and " " not in key:
            headers.append((key, value.removeprefix(" ").rstrip("\r\n")))
        elif line:
            content.append(line)
    return AmiMessage(tuple(headers), "\n".join(content))


def encode_frame(fields: Iterable[tuple[str, str]] | Mapping[str, str | Sequence[str]]) -> bytes:
    """Encode one frame (an action, or a response/event in test servers).

    A mapping value that is a list or tuple becomes a repeated key.  CR or LF
    inside a key or value would smuggle extra headers into the frame and raises
    :class:`AmiProtocolError`.
    """
    pairs: list[tuple[str, str]] = []
    items = fields.items() if isinstance(fields, Mapping) else fields
    for key, value in items:
        values = [value] if isinstance(value, str) else list(value)
        pairs.extend((key, str(v)) for v in values)
    lines = []
    for key, value in pairs:
        if any(c in key or c in value for c in "\r\n") or ":" in key:
            raise AmiProtocolError(f"AMI header {key!r} would break the frame")
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

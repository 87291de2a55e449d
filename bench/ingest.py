"""Event ingest: ARI and AMI events per second the engine parses and dispatches on one core.

An in-process micro-benchmark; what is timed (process CPU time, one thread):

* **ARI**: each WebSocket text message through :func:`cti.ari.events.decode_event`
  (JSON, then the pydantic event model) and :meth:`Engine.on_ari`: the two
  calls the ARI client's reader makes per message (its fan-out to
  subscribers is left out);
* **AMI**: the byte stream fed to :class:`cti.ami.AmiDecoder` in 4 KiB pieces
  (as TCP delivers it), each message through :func:`cti.ami.typed_event` and
  :meth:`Engine.on_ami` (panoramisk's message wrapper and its dispatch by
  event name are left out).

The events are the ``ari-ws`` events and the ``ami-in`` event frames of the
real Asterisk 22 sessions in ``tests/fixtures/asterisk/transcripts/``, played
again and again.  Each pass gives the channels new ids, so every inbound
``StasisStart`` is a new call for the engine (a call record, timeline rows,
an ARI request lane) and every ``StasisEnd`` ends one (the final record and
the ticket).  The engine is the real one, built on the shipped configuration;
the requests it starts are cancelled between passes, untimed, before they
touch a socket.  Engine logs are rendered as in production (JSON, INFO) into
``/dev/null``.

``events_per_s`` is the rate of a stream with the transcripts' own mix of
ARI and AMI events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cti import logs
from cti.ami import AmiDecoder, AmiMessage, typed_event
from cti.ari.client import AriClient
from cti.ari.events import decode_event
from cti.config import ConfigManager
from cti.engine import records
from cti.engine.pbx import Pbx
from cti.executor import Engine
from cti.store import Database
from cti.writer import BufferedWriter

TRANSCRIPTS = (
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "asterisk" / "transcripts"
)
CHUNK = 4096
_CHANNEL_ID = re.compile(r"^\d+\.\d+$")


@dataclass(frozen=True)
class Stream:
    """The recorded events: ARI messages (JSON text) and AMI event frames (bytes)."""

    ari: tuple[str, ...]
    ami: tuple[bytes, ...]
    channel_ids: tuple[str, ...]


def recorded_stream(directory: Path = TRANSCRIPTS) -> Stream:
    ari: list[str] = []
    ami: list[bytes] = []
    ids: set[str] = set()
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry.get("dir") == "ari-ws":
                ari.append(json.dumps(entry["event"], ensure_ascii=False))
                ids.update(_ids(entry["event"]))
            elif entry.get("dir") == "ami-in" and entry["raw"].startswith("Event:"):
                ami.append(entry["raw"].encode("utf-8"))
    return Stream(tuple(ari), tuple(ami), tuple(sorted(ids, key=len, reverse=True)))


def _ids(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "id" and isinstance(value, str) and _CHANNEL_ID.match(value):
                yield value
            else:
                yield from _ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _ids(item)


def _renamed(stream: Stream, generation: int) -> list[str]:
    """The ARI messages with every channel id made unique to ``generation``."""
    pattern = re.compile("|".join(re.escape(f'"{i}"') for i in stream.channel_ids))
    return [pattern.sub(lambda m: m.group(0)[:-1] + f'-{generation}"', text) for text in stream.ari]


def _engine(config_dir: Path, spool: Path) -> Engine:
    manager = ConfigManager(config_dir)
    config, version = manager.snapshot()
    writer = BufferedWriter(Database(""), spool, memory_limit=10**9)
    records.register(writer)
    ari = AriClient("http://127.0.0.1:9/ari", "bench", "", config.engine.ari.app)
    return Engine(config, version.digest, Pbx(ari), writer)


async def _cancel_requests(engine: Engine) -> None:
    """Cancel, untimed, every task the pass started (each call's chain of requests)
    before it runs: none of them reaches a socket."""
    engine.shutdown()
    this = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is not this:
            task.cancel()
    await asyncio.sleep(0)


async def _measure(config_dir: Path, seconds: float) -> dict[str, Any]:
    stream = recorded_stream()
    with tempfile.TemporaryDirectory(prefix="hotline-ingest-") as tmp:
        engine = _engine(config_dir, Path(tmp) / "spool.jsonl")
        ari_cpu, ari_events, generation = 0.0, 0, 0
        while ari_cpu < seconds:
            generation += 1
            texts = _renamed(stream, generation)
            start = time.process_time()
            for text in texts:
                event = decode_event(text)
                if event is not None:
                    engine.on_ari(event)
            engine.arrivals.admit_all()  # the arrivals' decisions count too
            ari_cpu += time.process_time() - start
            ari_events += len(texts)
            await _cancel_requests(engine)
        ami_bytes = b"".join(stream.ami)
        ami_cpu, ami_events = 0.0, 0
        while ami_cpu < seconds:
            decoder = AmiDecoder()
            start = time.process_time()
            for offset in range(0, len(ami_bytes), CHUNK):
                decoder.receive_data(ami_bytes[offset : offset + CHUNK])
                for message in decoder:
                    if isinstance(message, AmiMessage):
                        engine.on_ami(typed_event(message))
                        ami_events += 1
            ami_cpu += time.process_time() - start
        errors = engine.errors
        await engine.pbx.ari.close()
    ari_cost = ari_cpu / ari_events
    ami_cost = ami_cpu / ami_events
    n_ari, n_ami = len(stream.ari), len(stream.ami)
    mixed = (n_ari + n_ami) / (n_ari * ari_cost + n_ami * ami_cost)
    return {
        "events_per_s": round(mixed),
        "ari_events_per_s": round(1 / ari_cost),
        "ami_events_per_s": round(1 / ami_cost),
        "ari_events": ari_events,
        "ami_events": ami_events,
        "mix": {"ari": n_ari, "ami": n_ami},
        "engine_errors": errors,
        "method": "in-process: transcript events through decode_event + Engine.on_ari "
        "and AmiDecoder + typed_event + Engine.on_ami, process CPU time",
    }


def measure(config_dir: Path, seconds: float = 2.0) -> dict[str, Any]:
    """Run the micro-benchmark (about ``2 * seconds`` of CPU) and return its figures."""
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            logs.configure(json=True, level="INFO")
            return asyncio.run(_measure(config_dir, seconds))
    finally:
        logs.configure(json=True, level="WARNING")

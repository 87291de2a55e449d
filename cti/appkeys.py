"""The keys under which the application holds its resources (aiohttp ``AppKey``).

They live apart from :mod:`cti.app`, which builds the application, so that the
HTTP faces in :mod:`cti.api` can read the database, the writer or the ARI
client from a request without importing the module that imports them.
"""

from __future__ import annotations

from aiohttp import web

from cti.ami import AmiClient
from cti.ari.client import AriClient
from cti.availability import Availability
from cti.config import ConfigManager
from cti.executor.nodes import Nodes
from cti.recordings.service import RecordingService
from cti.store import Database
from cti.tickets import TicketOutbox, TicketSender
from cti.writer import BufferedWriter

CONFIG = web.AppKey("config_manager", ConfigManager)
DATABASE = web.AppKey("database", Database)
WRITER = web.AppKey("writer", BufferedWriter)
ARI = web.AppKey("ari", AriClient)
AMI = web.AppKey("ami", AmiClient)
RECORDINGS = web.AppKey("recordings", RecordingService)
TICKETS = web.AppKey("ticket_sender", TicketSender)
OUTBOX = web.AppKey("ticket_outbox", TicketOutbox)
AVAILABILITY = web.AppKey("availability", Availability)
NODES = web.AppKey("nodes", Nodes)  # several Asterisk nodes (absent: one)

__all__ = [
    "AMI",
    "ARI",
    "AVAILABILITY",
    "CONFIG",
    "DATABASE",
    "NODES",
    "OUTBOX",
    "RECORDINGS",
    "TICKETS",
    "WRITER",
]

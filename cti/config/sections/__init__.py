"""The models of the configuration files, one module per file.

:data:`SECTIONS` maps each file's name (without ``.yaml``) to the model of its
whole content, in the order the files are checked and reported.  ``menus``,
``calendar`` and ``survey`` are the IVR's own models (:mod:`ivr.spec`).
"""

from __future__ import annotations

from pydantic import BaseModel

from cti.config.sections.agents import AgentsFile
from cti.config.sections.engine import EngineFile
from cti.config.sections.lines import LinesFile
from cti.config.sections.outbound import OutboundFile
from cti.config.sections.platform import PlatformFile
from cti.config.sections.prompts import PromptsFile
from cti.config.sections.queues import QueuesFile
from cti.config.sections.routing import RoutingFile
from cti.config.sections.seats import SeatsFile
from ivr.spec import Calendar, MenuSet, Survey

SECTIONS: dict[str, type[BaseModel]] = {
    "platform": PlatformFile,
    "lines": LinesFile,
    "routing": RoutingFile,
    "queues": QueuesFile,
    "agents": AgentsFile,
    "seats": SeatsFile,
    "prompts": PromptsFile,
    "engine": EngineFile,
    "menus": MenuSet,
    "calendar": Calendar,
    "survey": Survey,
    "outbound": OutboundFile,
}
"""File name (without ``.yaml``) -> model of the file's content; required unless in OPTIONAL."""

OPTIONAL: frozenset[str] = frozenset({"outbound"})
"""Files that may be left out: their model's defaults hold."""

__all__ = [
    "OPTIONAL",
    "SECTIONS",
    "AgentsFile",
    "Calendar",
    "EngineFile",
    "LinesFile",
    "MenuSet",
    "OutboundFile",
    "PlatformFile",
    "PromptsFile",
    "QueuesFile",
    "RoutingFile",
    "SeatsFile",
    "Survey",
]

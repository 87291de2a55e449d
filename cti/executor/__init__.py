"""The executor: carries out the switchboard's decisions over ARI and the writer.

The calls are decided by :mod:`switchboard` (pure); this package does the
I/O and feeds every result back as an event.  Its public face:

- :class:`Engine` (:mod:`cti.executor.engine`): the engine of one process,
  as the rest of ``cti`` uses it (the calls as :class:`CallView`, agent
  requests, ``transfers`` and ``monitors`` raising :class:`TransferRefused`);

- :class:`Executor` (:mod:`cti.executor.carry`): ``feed(event)``,
  ``carry(command)``, ordered request lanes, timers, the writer;
- :class:`Intake` (:mod:`cti.executor.intake`): ARI and AMI events in,
  arrivals in turn, reconciliation and adoption after a (re)connection;
- :func:`translate` (:mod:`cti.executor.translate`): an ARI event as a
  switchboard event;
- :func:`flow_config` (:mod:`cti.executor.flow`): the configuration as the
  switchboard sees it.
"""

from cti.executor.carry import Executor
from cti.executor.engine import Engine, restore_agents
from cti.executor.flow import ConfigRouter, flow_config
from cti.executor.intake import Intake
from cti.executor.lanes import Lanes
from cti.executor.ports import Listeners, Recordings, Writer
from cti.executor.requests import Notice, TargetSpec, TransferRefused
from cti.executor.translate import translate
from cti.executor.views import CallView

__all__ = [
    "CallView",
    "ConfigRouter",
    "Engine",
    "Executor",
    "Intake",
    "Lanes",
    "Listeners",
    "Notice",
    "Recordings",
    "TargetSpec",
    "TransferRefused",
    "Writer",
    "flow_config",
    "restore_agents",
    "translate",
]

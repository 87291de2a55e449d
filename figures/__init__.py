"""The engine's figures: one implementation of each formula, pure (no I/O, no clock).

:mod:`figures.calls` turns a call record into its contribution and holds the
formulas (接通率, 人工应答及时率, ASA, satisfaction ...); :mod:`figures.agents`
turns agent state changes into busy/available time and handled calls;
:mod:`figures.day` keeps today's figures for the wallboard; the reports in
``cti.reports`` sum the same contributions over any period.
"""

from figures.agents import AgentClock, AgentTime, Episode
from figures.calls import SATISFIED_LEVELS, Rules, RulesOf, Tally, contribution, handle
from figures.day import Day
from figures.waits import percentile

__all__ = [
    "SATISFIED_LEVELS",
    "AgentClock",
    "AgentTime",
    "Day",
    "Episode",
    "Rules",
    "RulesOf",
    "Tally",
    "contribution",
    "handle",
    "percentile",
]

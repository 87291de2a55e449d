"""``hotline simulate``: days of traffic through the real switchboard, in virtual time.

A planner's tool: the deployment's own routes, queues, skills, wrap-up,
overflow, menus and survey (``config/``), a traffic profile
(:mod:`simulate.traffic`) and a staffing (seat counts or a roster,
:mod:`simulate.staffing`) go in; the wallboard's figures per 15-minute
interval, per queue and per day come out (:mod:`simulate.results`, with
:mod:`figures`), or the fewest agents per interval that meet a target.

Modules: :mod:`simulate.day` (callers, phones and agents around
:class:`switchboard.sim.Simulation`), :mod:`simulate.flowmap` (the
deployment as the switchboard's configuration), :mod:`simulate.erlang`
(Erlang C and Erlang A), :mod:`simulate.history` (a profile fitted from the
stored calls), :mod:`simulate.report` (tables, HTML), :mod:`simulate.cli`.
"""

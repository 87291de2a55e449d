"""Closed forms of queueing theory, for a first staffing guess and to check the simulation.

**Erlang C** (M/M/n: Poisson arrivals, exponential service, no abandonment)
comes from ``pyworkforce`` (:class:`pyworkforce.queuing.ErlangC`): the
probability of waiting and the service level; the average speed of answer
follows as ``P(wait) / (n*mu - lambda)``.

**Erlang A** (M/M/n+M, Palm's model: exponential patience) is computed here
from its birth-death representation, as published in O. Garnett,
A. Mandelbaum and M. Reiman, "Designing a call center with impatient
customers", *Manufacturing & Service Operations Management* 4(3):208-227
(2002), section 2: with ``k`` callers in the system the birth rate is
``lambda`` and the death rate ``min(k, n)*mu + max(k - n, 0)*theta``
(``theta`` = 1 / mean patience).  The stationary probabilities ``pi_k`` are
the products of the rate ratios, normalised; by PASTA an arrival waits with
probability ``sum_{k >= n} pi_k``; the mean queue length is
``E[Q] = sum (k - n)^+ pi_k``, the probability of abandoning is
``theta * E[Q] / lambda`` (abandonments per second over arrivals per
second) and the mean wait of all callers ``E[Q] / lambda`` (Little's law).
The sum is taken until the terms fall below 1e-16 of the largest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyworkforce.queuing import ErlangC


@dataclass(frozen=True, slots=True)
class Queueing:
    """The steady-state figures of one queue with ``agents`` agents."""

    agents: int
    p_wait: float  # an arriving caller waits at all
    asa_s: float | None  # mean wait of the answered callers (Erlang C only)
    mean_wait_s: float  # mean wait of all callers (answered and abandoned)
    p_abandon: float  # 0 for Erlang C
    service_level: float | None  # answered within the threshold / all (Erlang C only)


def erlang_c(per_hour: float, aht_s: float, agents: int, threshold_s: float = 15.0) -> Queueing:
    """M/M/n: ``per_hour`` arrivals, mean handle ``aht_s``; ``agents`` must exceed the load."""
    load = per_hour * aht_s / 3600.0
    if agents <= load:
        raise ValueError(f"{agents} agents cannot carry {load:.1f} erlangs without abandonment")
    model = ErlangC(transactions=per_hour, aht=aht_s / 60.0, asa=threshold_s / 60.0, interval=60)
    p_wait = float(model.waiting_probability(positions=agents))
    service_level = float(model.service_level(positions=agents))
    rate_out = agents / aht_s - per_hour / 3600.0  # n*mu - lambda, per second
    asa = p_wait / rate_out
    return Queueing(agents, p_wait, asa, asa, 0.0, service_level)


def erlang_a(per_hour: float, aht_s: float, patience_s: float, agents: int) -> Queueing:
    """M/M/n+M (Palm): exponential patience of mean ``patience_s`` (see the module docstring)."""
    lam = per_hour / 3600.0
    mu = 1.0 / aht_s
    theta = 1.0 / patience_s
    if agents < 1 or lam <= 0:
        raise ValueError("Erlang A needs at least one agent and some arrivals")
    # log pi_k (unnormalised), k = 0, 1, ... until the terms vanish.
    logs = [0.0]
    k = 0
    peak = 0.0
    while True:
        k += 1
        death = min(k, agents) * mu + max(k - agents, 0) * theta
        logs.append(logs[-1] + math.log(lam / death))
        peak = max(peak, logs[-1])
        if k > agents and logs[-1] < peak - 37.0:  # e^-37 ~ 1e-16
            break
    weights = [math.exp(x - peak) for x in logs]
    total = sum(weights)
    pi = [w / total for w in weights]
    p_wait = sum(pi[agents:])
    queue = sum((j - agents) * p for j, p in enumerate(pi) if j > agents)
    p_abandon = theta * queue / lam
    mean_wait = queue / lam
    return Queueing(agents, p_wait, None, mean_wait, p_abandon, None)


def agents_for(
    per_hour: float,
    aht_s: float,
    patience_s: float | None,
    *,
    connection_rate: float | None = None,
    service_level: float | None = None,
    threshold_s: float = 15.0,
    limit: int = 5000,
) -> int:
    """The fewest agents for which the closed forms meet the targets (a first guess).

    ``connection_rate`` is judged with Erlang A when a patience is known
    (1 - P(abandon)), ``service_level`` with Erlang C's.
    """
    if per_hour <= 0:
        return 0
    load = per_hour * aht_s / 3600.0
    n = max(1, math.floor(load))
    while n < limit:
        ok = True
        if connection_rate is not None and patience_s is not None:
            ok = 1.0 - erlang_a(per_hour, aht_s, patience_s, n).p_abandon >= connection_rate
        if ok and service_level is not None:
            ok = n > load and (erlang_c(per_hour, aht_s, n, threshold_s).service_level or 0) >= (
                service_level
            )
        if ok and connection_rate is not None and patience_s is None:
            ok = n > load
        if ok:
            return n
        n += 1
    return limit

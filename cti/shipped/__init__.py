"""The shipped deployment, installed with the package.

``config/`` (the Nantong 12345 platform: routes, lines, queues, agents, seats,
menus, calendar, survey) lives at the top of the repository, where
administrators edit it.  In a checkout this package holds a symbolic link to
it; a built wheel holds a copy, so ``hotline demo``, ``hotline run`` and ``hotline
check-config`` find the deployment from any working directory, installed or
not.  ``--config DIR`` overrides it everywhere.  (``asterisk-conf/`` travels
the same way inside :mod:`pbxsim`, whose dialplan it is.)
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The shipped configuration directory (``config/``)."""
    return (_HERE / "config").resolve()


__all__ = ["config_dir"]

"""The shipped deployment, installed with the package.

``config/`` (the Nantong 12345 platform: routes, lines, queues, agents, seats,
menus, calendar, survey) and ``asterisk-conf/`` (what a real Asterisk needs to
run with the engine) live at the top of the repository, where administrators
edit them.  In a checkout this package holds symbolic links to them; a built
wheel holds copies, so ``hotline demo``, ``hotline run`` and ``hotline
check-config`` find the deployment from any working directory, installed or
not.  ``--config DIR`` overrides it everywhere.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The shipped configuration directory (``config/``)."""
    return (_HERE / "config").resolve()


def asterisk_conf_dir() -> Path:
    """The shipped Asterisk configuration (``asterisk-conf/``)."""
    return (_HERE / "asterisk-conf").resolve()


__all__ = ["asterisk_conf_dir", "config_dir"]

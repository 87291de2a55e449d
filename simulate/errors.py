"""The one error of ``hotline simulate``: bad input, said in one line."""

from __future__ import annotations

from cti.errors import CtiError


class SimulateError(CtiError):
    """A traffic profile, roster, option or history range ``hotline simulate`` cannot use."""

"""The shipped Kamailio configuration (``deploy/kamailio/kamailio.cfg``) is one that
Debian's Kamailio accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.availability

REPO = Path(__file__).resolve().parents[1]
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"


def test_kamailio_accepts_the_shipped_configuration() -> None:
    assert Path(KAMAILIO).exists(), "Debian's kamailio is missing: tools/bootstrap.sh --test"
    checked = subprocess.run(
        [KAMAILIO, "-c", "-f", str(REPO / "deploy" / "kamailio" / "kamailio.cfg")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert "config file ok" in output.lower()
    for module in ("dispatcher", "registrar", "usrloc"):
        assert (
            f'loadmodule "{module}.so"'
            in (REPO / "deploy" / "kamailio" / "kamailio.cfg").read_text()
        )

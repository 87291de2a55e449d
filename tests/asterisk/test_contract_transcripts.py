"""The transcripts of Local channels, replayed against a real Asterisk.

``tests/test_pbxsim_transcripts.py`` replays the same four recordings against
pbxsim with the same :class:`~tests.support.replay.Replayer` and the same
comparison (statuses, each channel's events, each playback's, the multiset
of event types), so both sides of the contract are held by one scenario.
The Asterisk here runs the shipped configuration plus the recordings'
``[probe]`` context (as the site file ``extensions_local.conf``) and their
``ari.conf`` ``channelvars``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.asterisk.pbx import ARI_PASSWORD, ARI_USER, Asterisk, Ports, replace_line
from tests.support.replay import Credentials, RealAsterisk, Replayer

pytestmark = [pytest.mark.asterisk, pytest.mark.fidelity]

PROBE = Path(__file__).resolve().parents[1] / "fixtures" / "asterisk" / "probe-extensions.conf"
CHANNELVARS = "channelvars = HOTLINE_CALL_ID,REDIRECTING(from-num)"


@pytest.fixture(scope="module")
def probe_asterisk(
    asterisk_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Asterisk]:
    root = tmp_path_factory.mktemp("asterisk-probe")
    local = {"extensions_local.conf": PROBE.read_text(encoding="utf-8")}
    pbx = Asterisk(asterisk_binary, root, Ports.allocate(), local=local)
    ari_conf = pbx.conf.parent / "ari.conf"
    text = replace_line(
        ari_conf.read_text(encoding="utf-8"),
        "[general]",
        f"[general]\n{CHANNELVARS}",
        file="ari.conf",
    )
    ari_conf.write_text(text, encoding="utf-8")
    pbx.start()
    try:
        yield pbx
    finally:
        pbx.stop()


@pytest.mark.parametrize(
    "name",
    [
        "create_then_dial_answer_busy_timeout",
        "continue_back_to_dialplan",
        "channelvars_and_stasis_args",
        "application_replaced",
        "playback_list_pause_unpause",
    ],
)
async def test_real_asterisk_matches_its_recording(probe_asterisk: Asterisk, name: str) -> None:
    target = RealAsterisk(probe_asterisk.ari_url, Credentials(ARI_USER, ARI_PASSWORD))
    result = await Replayer(target, name, timeout=15.0).run()
    assert result.statuses, "nothing replayed"
    assert result.mismatches() == []

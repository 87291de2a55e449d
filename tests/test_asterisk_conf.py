"""asterisk-conf/ as shipped: generated parts in step with config/, placeholders only, prompts complete.

These need no Asterisk: they check the files an administrator copies into
/etc/asterisk (the tier in tests/asterisk/ runs them on a real one).
"""

from __future__ import annotations

import re
import shutil
import wave
from pathlib import Path

import pytest

from cti.asterisk_conf import (
    DIDS_FILE,
    QUEUE_MEMBERS_FILE,
    SEATS_FILE,
    RenderError,
    main,
    parse_passwords,
    render_all,
)
from cti.config import load_config

pytestmark = pytest.mark.asterisk

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "asterisk-conf"
CONFIG = REPO / "config"


def test_generated_files_match_config() -> None:
    assert main(["--config", str(CONFIG), "--out", str(SHIPPED), "--check"]) == 0


def test_check_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(CONFIG), "--out", str(tmp_path)]) == 0
    seats = tmp_path / SEATS_FILE
    seats.write_text(seats.read_text(encoding="utf-8").replace("[8040]", "[8041]", 1))
    (tmp_path / DIDS_FILE).unlink()
    assert main(["--config", str(CONFIG), "--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert SEATS_FILE in err and DIDS_FILE in err and QUEUE_MEMBERS_FILE not in err


def test_every_seat_has_endpoint_auth_aor_and_queue_membership() -> None:
    config = load_config(CONFIG)
    files = render_all(config)
    endpoints = [seat.endpoint.removeprefix("PJSIP/") for seat in config.seats.seats]
    assert len(endpoints) == 40
    seats = files[SEATS_FILE]
    for name in endpoints:
        assert f"[{name}](seat-endpoint)\nauth={name}-auth\naors={name}\n" in seats
        assert f"[{name}-auth](seat-auth)\nusername={name}\npassword=change-me-{name}\n" in seats
        assert f"[{name}](seat-aor)\n" in seats
    members = re.findall(r"^member => PJSIP/(\S+)$", files[QUEUE_MEMBERS_FILE], re.M)
    assert members == endpoints


def test_every_served_number_is_a_did_once() -> None:
    config = load_config(CONFIG)
    dids = re.findall(
        r"^exten => (\d+),1,Set\(HOTLINE_DID=served\)$", render_all(config)[DIDS_FILE], re.M
    )
    merged = {number for line in config.lines.merged for number in line.numbers}
    assert len(dids) == len(set(dids))
    assert set(dids) == merged | {config.platform.main_number}
    assert "85098110" in dids  # the former tourism complaint line (DESIGN.md)


def test_passwords_file_replaces_placeholders(tmp_path: Path) -> None:
    secrets = tmp_path / "seat-passwords"
    secrets.write_text("# seat passwords\n8001 s3cret-one\n\n8002  s3cret-two\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--config", str(CONFIG), "--out", str(out), "--passwords", str(secrets)]) == 0
    text = (out / SEATS_FILE).read_text(encoding="utf-8")
    assert "username=8001\npassword=s3cret-one\n" in text
    assert "username=8002\npassword=s3cret-two\n" in text
    assert "username=8003\npassword=change-me-8003\n" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("8001\n", "seat-passwords:1: expected '<endpoint> <password>'"),
        ("8001 a\n8001 b\n", "seat-passwords:2: endpoint 8001 listed twice"),
        ("8001 a;b\n", "seat-passwords:1: a password may not contain ';'"),
    ],
)
def test_bad_passwords_file_is_refused_with_its_line(content: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        parse_passwords(content, source="seat-passwords")
    assert str(caught.value) == message


def test_password_for_an_unknown_seat_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = tmp_path / "seat-passwords"
    secrets.write_text("9999 whatever\n", encoding="utf-8")
    assert main(["--config", str(CONFIG), "--out", str(tmp_path), "--passwords", str(secrets)]) == 1
    assert "passwords for unknown endpoints: 9999" in capsys.readouterr().err
    assert not (tmp_path / SEATS_FILE).exists()


def test_a_seat_that_is_not_a_local_phone_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    seats = config / "seats.yaml"
    seats.write_text(
        seats.read_text(encoding="utf-8").replace("endpoint: PJSIP/8040", "endpoint: IAX2/8040"),
        encoding="utf-8",
    )
    assert main(["--config", str(config), "--out", str(tmp_path / "out")]) == 1
    assert "IAX2/8040" in capsys.readouterr().err


def test_missing_config_directory_exits_2(tmp_path: Path) -> None:
    assert main(["--config", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2


def test_shipped_secrets_are_placeholders_only() -> None:
    secret_line = re.compile(r"^\s*(password|secret)\s*=\s*(\S*)", re.M)
    found = 0
    for path in SHIPPED.glob("*.conf"):
        for _, value in secret_line.findall(path.read_text(encoding="utf-8")):
            found += 1
            assert value.startswith("change-me"), f"{path.name}: {value}"
    mailbox = re.search(r"^12345 => (\S+?),", (SHIPPED / "voicemail.conf").read_text(), re.M)
    assert mailbox is not None and mailbox.group(1) == "change-me"
    assert found >= 42  # ARI, AMI and the 40 seats


def test_ari_http_and_ami_listen_on_loopback_only() -> None:
    http = (SHIPPED / "http.conf").read_text(encoding="utf-8")
    manager = (SHIPPED / "manager.conf").read_text(encoding="utf-8")
    assert re.search(r"^bindaddr = 127\.0\.0\.1$", http, re.M)
    assert re.search(r"^bindaddr = 127\.0\.0\.1$", manager, re.M)
    assert re.search(r"^permit = 127\.0\.0\.1/255\.255\.255\.255$", manager, re.M)


def test_every_prompt_ships_as_8khz_16bit_mono_wav() -> None:
    config = load_config(CONFIG)
    total = 0
    for prompt_id, prompt in config.prompts.prompts.items():
        for language, sound in prompt.sounds.items():
            path = SHIPPED / "sounds" / f"{sound}.wav"
            assert path.is_file(), f"{prompt_id} ({language}): {path} missing"
            with wave.open(str(path)) as w:
                assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
                assert 0.2 < w.getnframes() / 8000 < 20, f"{path.name}: odd length"
    for path in (SHIPPED / "sounds").rglob("*.wav"):
        total += path.stat().st_size
    for path in (SHIPPED / "moh").glob("*.wav"):
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        total += path.stat().st_size
    assert total < 4 * 1024 * 1024

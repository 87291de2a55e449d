"""Log records: numbers masked, secrets dropped, JSON lines in production."""

from __future__ import annotations

import json

import pytest
import structlog

from cti import logs

pytestmark = pytest.mark.foundation


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("13800138000", "138****8000"),
        ("051385098110", "051*****8110"),
        ("12345", "12345"),
        ("110", "110"),
        ("", ""),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    assert logs.mask_number(number) == masked


def test_mask_text_masks_numbers_inside_free_text() -> None:
    assert logs.mask_text("caller 13800138000 dialled 12345") == "caller 138****8000 dialled 12345"


def test_mask_text_leaves_hashes_and_ids_alone() -> None:
    digest = "9f86d081884c7d659a2feaa0c55ad01512345678901234567890a08b"
    assert logs.mask_text(digest) == digest
    assert logs.mask_text("c-20261122-0123456789a") == "c-20261122-0123456789a"


def test_json_lines_mask_numbers_and_drop_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(json=True)
    try:
        log = structlog.get_logger()
        log.info(
            "call_arrived",
            caller="13800138000",
            dialled="12345",
            ari_password="s3cr3t-value",
            note="from 13900139000",
        )
    finally:
        structlog.reset_defaults()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "call_arrived"
    assert record["caller"] == "138****8000"
    assert record["dialled"] == "12345"
    assert record["ari_password"] == "***"
    assert record["note"] == "from 139****9000"
    assert "13800138000" not in line and "s3cr3t-value" not in line

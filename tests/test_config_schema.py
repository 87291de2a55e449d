"""The JSON Schema accepts the shipped files, rejects mistakes, and the shipped copies are current."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from cti.config import CONFIG_FILES, hash_pin, json_schema, verify_pin
from cti.config.cli import schema_main
from cti.config.yamlsrc import parse_yaml

pytestmark = pytest.mark.foundation

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENTS = [ROOT / "config", ROOT / "examples" / "liyang"]


def as_json(value: Any) -> Any:
    """YAML data as an editor's validator sees it (dates are strings)."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def data_of(path: Path) -> Any:
    return as_json(parse_yaml(path, path.read_bytes()).data)


@pytest.mark.parametrize("directory", DEPLOYMENTS, ids=["nantong", "liyang"])
def test_each_shipped_file_validates_against_its_schema(directory: Path) -> None:
    whole = {}
    for file_name in CONFIG_FILES:
        name = file_name.removesuffix(".yaml")
        data = data_of(directory / file_name)
        whole[name] = data
        validator = jsonschema_rs.validator_for(json_schema(name))
        assert [e.message for e in validator.iter_errors(data)] == [], file_name
    assert list(jsonschema_rs.validator_for(json_schema()).iter_errors(whole)) == []


def test_the_schema_rejects_what_the_loader_rejects() -> None:
    queues = data_of(ROOT / "config" / "queues.yaml")
    validator = jsonschema_rs.validator_for(json_schema("queues"))
    queues["queues"]["general"]["stratgy"] = "ordered"
    queues["queues"]["general"]["ring_timeout"] = 500
    messages = sorted(e.message for e in validator.iter_errors(queues))
    assert any("stratgy" in m for m in messages) and any("500" in m for m in messages)
    lines = data_of(ROOT / "config" / "lines.yaml")
    lines["emergency"][0]["number"] = 110  # unquoted
    errors = list(jsonschema_rs.validator_for(json_schema("lines")).iter_errors(lines))
    assert len(errors) == 1 and "string" in errors[0].message


def test_schema_structure() -> None:
    whole = json_schema()
    assert whole["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    optional = {"outbound.yaml"}  # may be left out: its defaults hold
    assert whole["required"] == [f.removesuffix(".yaml") for f in CONFIG_FILES if f not in optional]
    assert whole["additionalProperties"] is False
    queue = json_schema("queues")["$defs"]["Queue"]
    assert queue["additionalProperties"] is False
    assert queue["properties"]["ring_timeout"]["maximum"] == 120
    strategy = json_schema("queues")["$defs"]["Strategy"]
    assert strategy["enum"][0] == "longest_idle" and "ring_all" in strategy["enum"]


def test_shipped_schema_files_are_current(tmp_path: Path) -> None:
    assert schema_main(["--split", str(tmp_path)]) == 0
    for file_name in CONFIG_FILES:
        name = file_name.replace(".yaml", ".json")
        fresh = (tmp_path / name).read_text(encoding="utf-8")
        shipped = (ROOT / "config" / "schema" / name).read_text(encoding="utf-8")
        assert shipped == fresh, f"regenerate: hotline config-schema --split config/schema ({name})"


def test_shipped_files_name_their_schema() -> None:
    for directory, prefix in (
        (ROOT / "config", "schema/"),
        (DEPLOYMENTS[1], "../../config/schema/"),
    ):
        for name in (f.removesuffix(".yaml") for f in CONFIG_FILES):
            first = (directory / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
            assert first == f"# yaml-language-server: $schema={prefix}{name}.json"
            assert (directory / first.split("=", 1)[1]).resolve().is_file()


def test_schema_command_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert schema_main(["--file", "queues.yaml"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema("queues")
    out = tmp_path / "all.json"
    assert schema_main(["-o", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == json_schema()
    assert schema_main(["--file", "nosuch"]) == 2


def test_pin_hash_round_trip() -> None:
    salt = bytes(16)
    encoded = hash_pin("246810", iterations=100_000, salt=salt)
    scheme, iterations, salt_hex, key_hex = encoded.split("$")
    assert (scheme, iterations, salt_hex, len(key_hex)) == ("pbkdf2_sha256", "100000", "0" * 32, 64)
    assert verify_pin("246810", encoded)
    assert not verify_pin("246811", encoded)
    assert not verify_pin("246810", encoded.replace("pbkdf2_sha256", "md5"))
    assert hash_pin("246810", iterations=100_000) != encoded  # random salt by default
    with pytest.raises(ValueError):
        hash_pin("12a4")
    with pytest.raises(ValueError):
        hash_pin("1234", iterations=1000)


def test_demo_pin_of_a_shipped_agent() -> None:
    agents = parse_yaml(
        ROOT / "config" / "agents.yaml", (ROOT / "config" / "agents.yaml").read_bytes()
    )
    first = agents.data["agents"][0]
    assert first["number"] == "1001"
    assert verify_pin("1001", first["pin_hash"])
    assert not verify_pin("1002", first["pin_hash"])

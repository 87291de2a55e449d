"""JSON Schema of the configuration files, for editors that validate while typing.

Each shipped YAML file starts with a modeline that yaml-language-server (VS
Code's YAML extension, and others) understands::

    # yaml-language-server: $schema=schema/queues.json

``hotline config-schema --split DIR`` writes one such schema per file;
``--file NAME`` prints one; with neither, the schema of the whole directory
(an object with one property per file) is printed.
"""

from __future__ import annotations

from typing import Any

from cti.config.sections import OPTIONAL, SECTIONS

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(name: str | None = None) -> dict[str, Any]:
    """The JSON Schema of file ``name`` (e.g. ``"queues"``), or of the whole directory.

    Raises ``KeyError`` for an unknown file name.
    """
    if name is not None:
        model = SECTIONS[name]
        schema = model.model_json_schema(mode="validation")
        schema["title"] = f"{name}.yaml"
        return {"$schema": DIALECT, **schema}
    defs: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for file_name, model in SECTIONS.items():
        # Prefix each file's definitions: two files may name a model alike.
        template = f"#/$defs/{file_name}.{{model}}"
        schema = model.model_json_schema(mode="validation", ref_template=template)
        for def_name, definition in schema.pop("$defs", {}).items():
            defs[f"{file_name}.{def_name}"] = definition
        key = f"{file_name}"
        defs[key] = schema
        properties[file_name] = {"$ref": f"#/$defs/{key}"}
    return {
        "$schema": DIALECT,
        "title": "hotline-cti configuration directory",
        "description": "one property per file: NAME.yaml holds the value of NAME",
        "type": "object",
        "properties": properties,
        "required": [name for name in SECTIONS if name not in OPTIONAL],
        "additionalProperties": False,
        "$defs": defs,
    }

"""``hotline check-config DIR`` and ``hotline config-schema``.

check-config exit status: 0 valid (one summary line on stdout; warnings on
stderr), 1 invalid (every issue on stderr, ``file:line: key.path: message``),
2 usage error or no such directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from cti.config.coverage import coverage_warning
from cti.config.errors import ConfigDirectoryMissing
from cti.config.loader import check_config
from cti.config.schema import json_schema
from cti.config.sections import SECTIONS
from cti.shipped import config_dir


def check_config_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="hotline check-config",
        description="Validate a configuration directory; print every error as file:line.",
    )
    parser.add_argument(
        "directory",
        nargs="?",
        default=str(config_dir()),
        help="the directory holding platform.yaml, lines.yaml, ... (default: the shipped one)",
    )
    parser.add_argument(
        "--today",
        type=_date,
        metavar="YYYY-MM-DD",
        help="judge how far ahead calendar.yaml's holidays reach as of this day"
        " (e.g. a go-live date; default: today)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        result = check_config(args.directory)
    except ConfigDirectoryMissing as exc:
        print(f"hotline check-config: {exc}", file=sys.stderr)
        return 2
    warnings = list(result.warnings)
    if result.config is not None:
        stale = coverage_warning(result.config, args.directory, args.today)
        if stale is not None:
            warnings.append(stale)
    for issue in warnings:
        print(issue, file=sys.stderr)
    if result.config is None:
        for issue in result.errors:
            print(issue, file=sys.stderr)
        count = len(result.errors)
        print(
            f"{args.directory}: invalid — {count} error{'s' if count != 1 else ''}", file=sys.stderr
        )
        return 1
    print(f"{args.directory}: valid — {result.config.summary()}")
    return 0


def schema_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="hotline config-schema",
        description="Write the JSON Schema of the configuration, for editors "
        "(yaml-language-server: put '# yaml-language-server: $schema=PATH' atop a YAML file).",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--file",
        type=_file_name,
        choices=list(SECTIONS),
        help="one file's schema (queues or queues.yaml)",
    )
    target.add_argument("--split", metavar="DIR", help="write DIR/NAME.json for every file")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if args.split is not None:
        if args.output is not None:
            parser.print_usage(sys.stderr)
            print("hotline config-schema: --split and -o exclude each other", file=sys.stderr)
            return 2
        out_dir = Path(args.split)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in SECTIONS:
            (out_dir / f"{name}.json").write_text(_dump(json_schema(name)), encoding="utf-8")
        print(f"wrote {len(SECTIONS)} schemas to {out_dir}")
        return 0
    text = _dump(json_schema(args.file))
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _file_name(text: str) -> str:
    return text.removesuffix(".yaml").removesuffix(".yml")


def _dump(schema: dict[str, object]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"

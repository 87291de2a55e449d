"""The ``hotline`` command: one entry point, one sub-command per job.

Each sub-command lives in the module that owns it and is imported only when
it runs, so ``hotline check-config`` never pays for the engine's imports and a
broken optional part cannot stop the others.  A sub-command handler takes the
remaining arguments and returns the process exit status.  Only commands that
run are listed.  The project's own errors and the operating system's refusals
that reach this point are printed as one line (exit 1), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from cti.errors import CtiError

# name -> ("module:function", one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("cti.app:main", "run the engine against Asterisk (or pbxsim)"),
    "check-config": ("cti.config.cli:check_config_main", "validate a configuration directory"),
    "config-schema": ("cti.config.cli:schema_main", "write the JSON Schema of the YAML files"),
    "sim": ("pbxsim.cli:main", "run pbxsim, the stand-in Asterisk, alone"),
    "demo": ("cti.demo:main", "engine + pbxsim + private PostgreSQL + scripted traffic"),
    "bench": ("bench.cli:main", "benchmarks that print figures (acd, load)"),
    "simulate": ("simulate.cli:main", "a day of traffic through the switchboard: figures, seats"),
    "report": ("cti.reports.cli:main", "figures of a period, or the monthly assessment sheet"),
    "render-asterisk-conf": (
        "cti.asterisk_conf:main",
        "generate the seat part of pjsip.conf from config/",
    ),
}


def _load(target: str) -> Callable[[list[str]], int]:
    module_name, _, func_name = target.partition(":")
    module = importlib.import_module(module_name)
    handler: Callable[[list[str]], int] = getattr(module, func_name)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="hotline",
        description="hotline-cti: the telephony engine of a city 12345 service hotline.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n"
        + "\n".join(f"  {name:<22}{help_}" for name, (_, help_) in COMMANDS.items())
        + "\n\nRun 'hotline COMMAND --help' for a command's options.",
    )
    parser.add_argument("command", choices=sorted(COMMANDS), metavar="COMMAND")
    if not args or args[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    ns = parser.parse_args(args[:1])
    try:
        handler = _load(COMMANDS[ns.command][0])
    except (ImportError, AttributeError) as exc:
        print(f"hotline {ns.command}: not available in this build ({exc})", file=sys.stderr)
        return 2
    try:
        return handler(args[1:])
    except KeyboardInterrupt:
        return 130
    except (CtiError, OSError) as exc:
        # A user's mistake or the machine's refusal (a missing directory, a
        # port in use, an unreadable file): one line, never a traceback.
        print(f"hotline {ns.command}: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror.lower()}"
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

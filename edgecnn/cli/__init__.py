"""The ``edgecnn`` command line: parse, call the API, print rich tables.

The top of the import graph: one module per subsystem here
(``edgecnn/cli/<part>.py``, each with a ``register(app)`` function) calls that
subsystem's API; this file assembles them and turns user errors
(``EdgeCNNError``) and usage errors into one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import sys

from edgecnn.cli.quiet import quiet_environment

# The TFLite converter's C++ logging (one "I0000 ... Estimated count of
# arithmetic ops" line per conversion) and glog read their levels once, when
# they load; what still reaches stderr during a run goes to its log file
# (edgecnn/cli/quiet.py).
quiet_environment()

import typer  # noqa: E402

from edgecnn.version import __version__  # noqa: E402

app = typer.Typer(
    name="edgecnn",
    help="Pick, cost, export, time and compare CNNs for edge devices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One line per subsystem that adds commands.
COMMAND_MODULES = [
    "edgecnn.cli.devices",
    "edgecnn.cli.models",
    "edgecnn.cli.export",
    "edgecnn.cli.quantize",
    "edgecnn.cli.report",
    "edgecnn.cli.cost",
    "edgecnn.cli.train",
    "edgecnn.cli.profile",
    "edgecnn.cli.calibrate",
    "edgecnn.cli.select",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgecnn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """edgecnn: pick, cost, export, time and compare CNNs for edge devices."""


for _mod in COMMAND_MODULES:
    importlib.import_module(_mod).register(app)


def _click_types(name: str) -> tuple[type, ...]:
    """``name`` (ClickException, UsageError, Exit, Abort, NoArgsIsHelpError) from
    every click that may be in play: typer >= 0.29 vendors its own copy as
    ``typer._click``, older typers use the ``click`` package."""
    found = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


def usage_line(exc: Exception, argv: list[str] | None = None) -> str:
    """A click/typer usage error as one line: the message, the command's usage
    and where to find help."""
    message = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    if ctx is None:  # raised while parsing, before a context existed: name the command from argv
        args = list(sys.argv[1:] if argv is None else argv)
        command = next((a for a in args if not a.startswith("-")), None)
        where = f"edgecnn {command}" if command else "edgecnn"
        return f"error: {message} (see '{where} --help')"
    usage = " ".join(ctx.get_usage().split())
    usage = usage[len("Usage: "):] if usage.startswith("Usage: ") else usage
    return f"error: {message} (usage: {usage}; see '{ctx.command_path} --help')"


def _log_note(exc: BaseException) -> str:
    """`` (third-party messages: PATH)`` when the run that failed logged any (``quiet.third_party_log``)."""
    path = getattr(exc, "log_path", None)
    return f" (third-party messages: {path})" if path else ""


def main(argv: list[str] | None = None) -> int:
    """Console entry point. User errors and usage errors (unknown option, missing
    argument or value, value out of range or of the wrong type) become one
    ``error:`` line on stderr and exit code 2; Ctrl-C exits 130."""
    from edgecnn.errors import EdgeCNNError

    usage_errors, other_click = _click_types("UsageError"), _click_types("ClickException")
    click_exits, aborts = _click_types("Exit"), _click_types("Abort")
    no_args = _click_types("NoArgsIsHelpError")
    try:
        rv = app(args=argv, prog_name="edgecnn", standalone_mode=False)
        # typer turns Ctrl-C and typer.Exit into a returned exit code here
        if isinstance(rv, int) and rv != 0:
            if rv == 130:
                print("error: interrupted; results written so far are kept", file=sys.stderr)
            return rv
    except EdgeCNNError as exc:
        print(f"error: {' '.join(str(exc).split()) if chr(10) in str(exc) else exc}{_log_note(exc)}",
              file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; results written so far are kept", file=sys.stderr)
        return 130
    except Exception as exc:
        if no_args and isinstance(exc, no_args):  # `edgecnn` alone: the help, as asked
            ctx = getattr(exc, "ctx", None)
            text = ctx.get_help() if ctx is not None else str(exc)  # typer's rich help prints itself
            if text:
                print(text)
            return 0
        if usage_errors and isinstance(exc, usage_errors):
            print(usage_line(exc, argv), file=sys.stderr)
            return 2
        if other_click and isinstance(exc, other_click):
            print(f"error: {' '.join(str(exc.format_message()).split())}", file=sys.stderr)  # type: ignore[attr-defined]
            return 2
        if click_exits and isinstance(exc, click_exits):
            return int(getattr(exc, "exit_code", 0) or 0)
        if (aborts and isinstance(exc, aborts)) or isinstance(exc, typer.Abort):
            print("error: aborted", file=sys.stderr)
            return 130
        if getattr(exc, "log_path", None):
            print(f"note: third-party messages of this run are in {exc.log_path}", file=sys.stderr)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

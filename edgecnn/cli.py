"""The ``edgecnn`` command line: parse, call the API, print rich tables.

Each subsystem keeps its commands in its own ``commands.py`` with a
``register(app)`` function; this file only assembles them and turns
user errors (``EdgeCNNError``) into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import importlib
import os
import sys

# The TFLite converter's C++ logging (one "I0000 ... Estimated count of
# arithmetic ops" line per conversion) reads this once, when it loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import typer  # noqa: E402

from edgecnn import __version__  # noqa: E402

app = typer.Typer(
    name="edgecnn",
    help="Pick, cost, export, time and compare CNNs for edge devices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One line per subsystem that adds commands.
COMMAND_MODULES = [
    "edgecnn.devices.commands",
    "edgecnn.models.commands",
    "edgecnn.export.commands",
    "edgecnn.report.commands",
    "edgecnn.cost.commands",
    "edgecnn.train.commands",
    "edgecnn.profile.commands",
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


def main(argv: list[str] | None = None) -> int:
    """Console entry point. User errors become one line and exit code 2."""
    from edgecnn.errors import EdgeCNNError

    try:
        rv = app(args=argv, standalone_mode=False)
        # typer turns Ctrl-C and typer.Exit into a returned exit code here
        if isinstance(rv, int) and rv != 0:
            if rv == 130:
                print("error: interrupted; results written so far are kept", file=sys.stderr)
            return rv
    except EdgeCNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("error: interrupted; results written so far are kept", file=sys.stderr)
        return 130
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            print(f"error: {exc.format_message()}", file=sys.stderr)
            return exc.exit_code
        if isinstance(exc, click.exceptions.Exit):
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``scact`` command line.

Each command is a module ``scact/cli/<name>.py`` with a docstring (its help), ``add_arguments(parser)``
and ``run(args)``; a module that sets ``PASS_THROUGH_OPTIONS = True`` gets the options its parser does not
know in ``args.extra``. ``scact <name> ...`` and the script ``bin/scact_<name>.py ...`` (what a Nextflow
process calls) run the same code. Every command writes ``versions.yml`` into the working directory
unless ``--no-versions`` is given, and turns bad input into one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from scact.errors import EXIT_BAD_INPUT, EXIT_CUDA_OUT_OF_MEMORY, ScactInputError
from scact.steps import command_names



def true_or_false(text: str) -> bool:
    """A boolean option's value as Nextflow (``true``) or the local runner (``True``) writes it."""
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")
    return text.lower() == "true"


def _module(name: str):
    if name not in command_names():
        raise KeyError(f"no scact command named {name!r}; commands: {', '.join(command_names())}")
    return importlib.import_module(f"{__name__}.{name}")


def get_parser(name: str, prog: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of command ``name`` (used by the CLI and by the Nextflow checks)."""
    module = _module(name)
    parser = argparse.ArgumentParser(
        prog=prog or f"scact {name.replace('_', '-')}",
        description=(module.__doc__ or "").strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    module.add_arguments(parser)
    parser.add_argument("--no-versions", action="store_true",
                        help="do not write versions.yml into the working directory")
    parser.add_argument("--task-name", default=f"SCACT_{name.upper()}",
                        help="key of this step in versions.yml (Nextflow passes ${task.process}; the names "
                             "of the workflows around the process are dropped, as in the local runner)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def run_command(name: str, argv: list[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv`` for command ``name``, run it, and map bad input to a clean exit."""
    from scact.io.provenance import write_versions_yml

    parser = get_parser(name, prog)
    if getattr(_module(name), "PASS_THROUGH_OPTIONS", False):  # e.g. `scact run --<any pipeline param> v`
        args, args.extra = parser.parse_known_args(argv)
    else:
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # matplotlib's font fallback notes ("findfont: ... not found") are not the user's problem
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    try:
        _module(name).run(args)
    except ScactInputError as err:
        print(f"scact {name.replace('_', '-')}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:
        if not is_cuda_out_of_memory(err):
            raise
        print(f"scact {name.replace('_', '-')}: error: CUDA out of memory ({str(err).splitlines()[0]}); "
              "retry with a smaller --batch-size", file=sys.stderr)
        return EXIT_CUDA_OUT_OF_MEMORY
    if not args.no_versions:
        write_versions_yml("versions.yml", args.task_name.split(":")[-1])
    return 0


def is_cuda_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is torch's GPU out-of-memory error (torch is not imported just to check)."""
    torch = sys.modules.get("torch")
    oom_type = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if oom_type is not None and isinstance(err, oom_type):
        return True
    return isinstance(err, RuntimeError) and "CUDA out of memory" in str(err)


def run_script(name: str) -> None:
    """Entry point of ``bin/scact_<name>.py``."""
    sys.exit(run_command(name, sys.argv[1:], prog=f"scact_{name}.py"))


def main(argv: list[str] | None = None) -> None:
    """``scact <command> [options]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    names = command_names()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: scact <command> [options]\n\ncommands:")
        for name in names:
            doc = (_module(name).__doc__ or "").strip().splitlines()
            print(f"  {name.replace('_', '-'):<16} {doc[0] if doc else ''}")
        sys.exit(0 if argv else EXIT_BAD_INPUT)
    name = argv[0].replace("-", "_")
    if name not in names:
        print(f"scact: unknown command {argv[0]!r}; run 'scact --help'", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(run_command(name, argv[1:]))

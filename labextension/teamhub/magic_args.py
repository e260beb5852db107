"""The command lines of the ``%job``/``%%job`` magics (IPython's argparse flavour,
``IPython.core.magic_arguments``), and how their options become job spec fields.

A bad command line is an IPython ``UsageError`` naming what is wrong, raised before
anything is read from or sent to the cluster. ``--help`` on any command prints its help
and does nothing else.
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser, MagicHelpFormatter

from teamhub.jobs.spec import BACKEND_NAMES


class ShowHelp(Exception):
    """``--help`` was given: show ``text`` instead of running the command."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _HelpAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kw: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        raise ShowHelp(parser.format_help())


class _Formatter(MagicHelpFormatter):
    """IPython's magic help, with a plain ``usage: %`` line (not an RST block)."""

    def add_usage(self, usage, actions, groups, prefix="usage: %"):  # type: ignore[no-untyped-def]
        super().add_usage(usage, actions, groups, prefix)


def _parser(prog: str, description: str, **kw: Any) -> MagicArgumentParser:
    p = MagicArgumentParser(prog=prog, description=description, formatter_class=_Formatter, **kw)
    p.add_argument("-h", "--help", action=_HelpAction, help="show this help and do nothing else")
    return p


def cell_parser() -> MagicArgumentParser:
    p = _parser(
        "%job",
        "Submit this cell's code as a distributed job that runs in this notebook's "
        "environment (image, volumes, credentials, env), and follow its status and logs.",
        epilog="Example:  %%job --backend pytorch --workers 4 --gpus 1 --memory 16Gi",
    )
    p.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        metavar="BACKEND",
        help=f"{', '.join(BACKEND_NAMES)} (default: indexed)",
    )
    p.add_argument("--workers", type=int, metavar="N", help="how many workers (default 1)")
    p.add_argument("--procs-per-worker", type=int, metavar="N", help="processes per worker")
    p.add_argument("--cpu", metavar="CPU", help="CPUs per worker, e.g. 4 or 500m")
    p.add_argument("--memory", metavar="MEM", help="memory per worker, e.g. 16Gi")
    p.add_argument("--gpus", type=int, metavar="N", help="GPUs per worker")
    p.add_argument("--image", help="the image (default: this notebook's; must be allowed)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="set an env var")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="add a label")
    p.add_argument(
        "--queue",
        metavar="NAME",
        help="your Kueue queue to wait in (default: your first; '' for none)",
    )
    p.add_argument("--deadline", type=int, metavar="SECONDS", help="stop the job after this")
    p.add_argument("--name", help="the job's name (default: generated)")
    p.add_argument("--chief", action="store_true", help="tf: the first worker is the chief")
    p.add_argument("--working-dir", metavar="PATH", help="where the job starts")
    p.add_argument(
        "--no-follow", action="store_true", help="submit only: don't follow status and logs"
    )
    p.add_argument("--out", metavar="VAR", help="also store the Job in variable VAR")
    return p


def line_parser() -> MagicArgumentParser:
    p = _parser(
        "job",
        "Your jobs: list them, see a job's status or logs, cancel or delete it. "
        "Submit one with the %%job cell magic.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=MagicArgumentParser)

    def command(name: str, help: str) -> MagicArgumentParser:
        q = sub.add_parser(name, help=help, description=help, formatter_class=_Formatter)
        q.add_argument(
            "-h", "--help", action=_HelpAction, help="show this help and do nothing else"
        )
        return q

    q = command("list", "list your jobs with their status")
    q.add_argument("--widget", action="store_true", help="show a live JobList widget")
    q = command("status", "show a job's status, pods and why it is pending")
    q.add_argument("name", metavar="NAME", help="the job")
    q = command("logs", "print a job's logs (every rank, prefixed with [replica])")
    q.add_argument("name", metavar="NAME", help="the job")
    q.add_argument("-f", "--follow", action="store_true", help="follow until the job ends")
    q.add_argument(
        "--replica",
        action="append",
        metavar="REPLICA",
        help="only this replica (worker-1, rank-0) or role (worker); repeatable",
    )
    q.add_argument("--tail", type=int, metavar="N", help="only each container's last N lines")
    q.add_argument(
        "--previous", action="store_true", help="the previous instance of restarted containers"
    )
    q = command("cancel", "stop a job, keeping its record and archiving its logs")
    q.add_argument("name", metavar="NAME", help="the job")
    q = command("delete", "delete a job and its record for good (archived logs are kept)")
    q.add_argument("name", metavar="NAME", help="the job")
    q = command("monitor", "show a live JobMonitor widget of a job")
    q.add_argument("name", metavar="NAME", help="the job")
    command("form", "show a SubmitForm widget")
    p.commands = sub.choices  # type: ignore[attr-defined]
    return p


def pairs(items: list[str], option: str) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict; a malformed one is a UsageError."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def spec_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The job spec fields the ``%%job`` options give (only those given)."""
    out: dict[str, Any] = {}
    for field in (
        "backend",
        "workers",
        "procs_per_worker",
        "cpu",
        "memory",
        "gpus",
        "image",
        "deadline",
        "name",
        "working_dir",
    ):
        value = getattr(args, field)
        if value is not None:
            out[field] = value
    env = pairs(args.env, "--env")
    if env:
        out["env"] = env
    labels = pairs(args.label, "--label")
    if args.queue is not None:
        out["queue"] = args.queue
    if labels:
        out["labels"] = labels
    if args.chief:
        out["chief"] = True
    return out


def usage() -> str:
    """The help of every form of the magic (the ``%job?`` docstring)."""
    line = line_parser()
    parts = [cell_parser().format_help(), line.format_help()]
    parts += [p.format_help() for p in line.commands.values()]  # type: ignore[attr-defined]
    return "\n".join(parts)

"""Check a teams config file: ``python -m teamhub_hub.teams teams.yaml``.

Prints every problem (exit 1), or a summary and any cross-team warnings (exit 0), so an
admin can check a config before the hub loads it.
"""

from __future__ import annotations

import argparse
import sys

from .load import TeamsConfigError, load_teams_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m teamhub_hub.teams", description="Check a teamhub teams config file."
    )
    parser.add_argument("path", help="the YAML file")
    args = parser.parse_args(argv)
    try:
        config = load_teams_config(args.path)
    except TeamsConfigError as e:
        print(e, file=sys.stderr)
        return 1
    for warning in config.cross_team_warnings():
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{args.path}: valid ({len(config.teams)} teams, {len(config.profiles)} profiles, "
        f"{len(config.global_volumes)} global volumes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command-line interface: ``hwsim run PLATFORM TRACE [--timeline FILE] [--json FILE]``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import HwsimError


def _run(args) -> int:
    from . import load_platform, load_trace, simulate

    overrides = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        if not _:
            raise HwsimError(f"--set expects path=value, got {item!r}")
        import yaml
        overrides[key] = yaml.safe_load(value)
    platform = load_platform(args.platform, overrides or None)
    trace = load_trace(args.trace)
    for path in (args.timeline, args.json):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    result = simulate(platform, trace, timeline=args.timeline)
    if not args.quiet:
        print(result.layers_table())
        print()
    print(result.summary())
    if args.resources:
        print()
        print(result.resources_table())
    if args.json:
        result.to_json(args.json)
        print(f"report       {args.json}")
    if args.timeline:
        print(f"timeline     {args.timeline} (open in https://ui.perfetto.dev)")
    perf = result.perf
    print(f"simulator    {perf['events']:,} events in {perf['wall_s']:.3f} s wall "
          f"({perf['events_per_s']:,.0f} events/s, {perf['sim_cycles_per_s']:,.0f} simulated cycles/s)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hwsim", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="simulate one trace on one platform")
    run.add_argument("platform", help="platform YAML file")
    run.add_argument("trace", help="layer trace JSON file")
    run.add_argument("--timeline", metavar="FILE", help="write a Perfetto/Chrome trace JSON")
    run.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    run.add_argument("--set", action="append", metavar="PATH=VALUE",
                     help="override a platform field, e.g. components.l1.size_bytes=131072")
    run.add_argument("--resources", action="store_true", help="print the per-resource table")
    run.add_argument("-q", "--quiet", action="store_true", help="summary only, no layer table")
    run.set_defaults(func=_run)
    from .cli_explore import add_commands
    add_commands(sub)   # sweep, whatif, plot
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HwsimError as e:
        print(f"hwsim: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())

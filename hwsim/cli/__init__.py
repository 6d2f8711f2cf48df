"""Command-line interface: ``hwsim run PLATFORM TRACE [--timeline FILE] [--json FILE]``,
``hwsim schema platform|trace``.

Every :class:`~hwsim.base.errors.HwsimError` (and an unreadable output path) ends the command with
one ``hwsim: error: ...`` line on stderr and exit status 2; see ``docs/errors.md``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..base.errors import HwsimError, Interrupted

__all__ = ["main"]


def _run(args) -> int:
    from ..api import load_platform, load_trace, simulate

    from ..base.limits import check_outputs
    from .options import overrides as parse_overrides

    check_outputs({"platform": args.platform, "trace": args.trace},
                  {"--timeline": args.timeline, "--json": args.json})
    overrides = parse_overrides(args.set, "--set")
    platform = load_platform(args.platform, overrides or None)
    trace = load_trace(args.trace)
    if args.train:
        from ..workload.training import training_step

        trace = training_step(trace, trainable=args.train, batch=args.batch,
                              optimizer=args.optimizer, precision=args.precision)
    elif args.optimizer != "sgd" or args.precision:
        raise HwsimError("--optimizer and --precision apply to a training step: add --train")
    else:
        if args.batch < 1:
            raise HwsimError(f"--batch must be >= 1, got {args.batch}")
        trace = trace.batched(args.batch)
    for path in (args.timeline, args.json):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    timeline = args.timeline
    if args.timeline_full:
        if not timeline:
            raise HwsimError("--timeline-full applies to a timeline: add --timeline FILE")
        from ..report.timeline import Timeline

        timeline = Timeline(timeline, platform, full=True)
    result = simulate(platform, trace, timeline=timeline, max_sim_s=args.max_sim_s,
                      max_wall_s=args.max_wall_s)
    if not args.quiet:
        print(result.layers_table(wide=args.wide))
        print()
    print(result.summary())
    skipped = (trace.meta.get("onnx") or {}).get("unsupported_skipped") or []
    if skipped:
        print(f"skipped      {len(skipped)} ONNX node(s) left out at import, not simulated: "
              + "; ".join(skipped))
    tr = trace.meta.get("training")
    if tr:
        print(f"training     one step, batch {tr['batch']}, {tr['optimizer']}, "
              f"{len(tr['trainable'])} trainable layer(s); saved activations "
              f"{tr['saved_activation_bytes']:,} B, weight gradients {tr['weight_gradient_bytes']:,} B, "
              f"optimizer state {tr['optimizer_state_bytes']:,} B")
    if args.resources:
        print()
        print(result.resources_table(wide=args.wide))
    if args.json:
        from ..base.limits import write_text_atomic
        write_text_atomic(args.json, result.to_json())
        print(f"report       {args.json}")
    if args.timeline:
        print(f"timeline     {args.timeline} (open in https://ui.perfetto.dev)")
    perf = result.perf
    print(f"simulator    {perf['events']:,} events in {perf['wall_s']:.3f} s wall "
          f"({perf['events_per_s']:,.0f} events/s, {perf['sim_cycles_per_s']:,.0f} simulated cycles/s)")
    return 0


def _import_onnx(args) -> int:
    import warnings

    from ..workload.onnx_import import UnsupportedOps, import_onnx, parse_input_shape

    from ..base.limits import check_outputs

    check_outputs({"model": args.model}, {"-o": args.output})
    pins = dict(parse_input_shape(t) for t in args.input_shape or [])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore" if args.skip_unsupported else "default")
            trace = import_onnx(args.model, name=args.name, bits=args.bits, input_shapes=pins,
                                on_unsupported="skip-with-warning" if args.skip_unsupported
                                else "error")
    except UnsupportedOps as e:
        if args.verbose:
            print("\n".join(f"  {n}" for n in e.nodes), file=sys.stderr)
        raise
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    trace.save(args.output)
    print(f"{args.output}: {len(trace.layers)} layers, {trace.total_macs:,} MACs, "
          f"{trace.total_params:,} params")
    skipped = trace.meta["onnx"]["unsupported_skipped"]
    if skipped:
        from collections import Counter
        kinds = Counter(s.split(" ", 1)[0] for s in skipped)
        print(f"skipped      {len(skipped)} unsupported node(s), not simulated: "
              + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())))
        if args.verbose:
            print("\n".join(f"  {s}" for s in skipped))
    return 0


def _print_assumptions(items) -> None:
    for a in items:
        print(f"assumed      {a}")


def _save_trace(trace, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    trace.save(path)
    print(f"{path}: {len(trace.layers)} layers, {trace.total_macs:,} MACs, "
          f"{trace.total_params:,} params")
    _print_assumptions(trace.meta.get("assumptions") or [])


def _save_platform(doc, path) -> None:
    from ..hardware.peer_formats import save_platform
    from ..hardware.platform import platform_from_dict

    p = platform_from_dict(doc, str(path))     # validated before it is written
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_platform(doc, path)
    print(f"{path}: platform {p.name}, {len(p.components)} components")
    _print_assumptions(doc["description"].split(": ", 1)[1].split("; "))


def _import_scalesim(args) -> int:
    from ..hardware.peer_formats import scalesim_config
    from ..workload.peer_formats import scalesim_topology

    if args.output:
        _save_trace(scalesim_topology(args.topology, bits=args.bits,
                                      depthwise_rows=not args.no_depthwise_rows), args.output)
    if args.cfg:
        if not args.platform_out:
            raise HwsimError("--cfg needs --platform-out FILE (where to write the platform)")
        _save_platform(scalesim_config(args.cfg), args.platform_out)
    if not args.output and not args.cfg:
        raise HwsimError("nothing to do: give -o TRACE.json and/or --cfg CFG --platform-out FILE")
    return 0


def _import_zigzag(args) -> int:
    from ..hardware.peer_formats import zigzag_hardware
    from ..workload.peer_formats import zigzag_workload

    if not args.workload and not args.hardware:
        raise HwsimError("nothing to do: give --workload W.yaml -o TRACE.json and/or --hardware "
                         "H.yaml --platform-out FILE")
    if args.workload:
        if not args.output:
            raise HwsimError("--workload needs -o TRACE.json")
        _save_trace(zigzag_workload(args.workload), args.output)
    if args.hardware:
        if not args.platform_out:
            raise HwsimError("--hardware needs --platform-out FILE")
        _save_platform(zigzag_hardware(args.hardware), args.platform_out)
    return 0


def _import_stream(args) -> int:
    from ..hardware.peer_formats import stream_system

    _save_platform(stream_system(args.system, missing_cores="skip" if args.skip_missing_cores
                                 else "error"), args.output)
    return 0


def _precision(text: str):
    if not text[:1].isdigit():
        return text
    try:
        bits = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a preset or bits like 8,32 (got {text!r})")
    if not 2 <= len(bits) <= 3:
        raise argparse.ArgumentTypeError("expected forward,gradient[,optimizer] bits, e.g. 8,32")
    return dict(zip(("forward", "gradient", "optimizer"), bits))


def build_parser() -> argparse.ArgumentParser:
    """The ``hwsim`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="hwsim", description="Cycle-level discrete-event simulator of TinyML hardware: "
        "replays layer traces of real networks on a platform and reports latency, energy and "
        "where the time went.", epilog="Errors end with one 'hwsim: error: ...' line and exit "
        "status 2 (docs/errors.md). Example: hwsim run platforms/pulp_imc_cluster.yaml "
        "traces/mobilenetv2.json --timeline out/timeline.json")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="simulate one trace on one platform")
    run.add_argument("platform", help="platform YAML file")
    run.add_argument("trace", help="layer trace JSON file")
    run.add_argument("--timeline", metavar="FILE",
                     help="write a timeline for ui.perfetto.dev / chrome://tracing: Chrome trace "
                          "JSON, or Perfetto protobuf if FILE ends in .pftrace (needs the "
                          "perfetto extra)")
    run.add_argument("--timeline-full", action="store_true",
                     help="full resolution: the exact bandwidth of every run of bursts and "
                          "bytes in flight per link, instead of bandwidth averaged over windows "
                          "of the run's length / 500..1000 (larger file, slower)")
    run.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    run.add_argument("--set", action="append", metavar="PATH=VALUE",
                     help="override a platform field, e.g. components.l1.size_bytes=131072")
    run.add_argument("--resources", action="store_true", help="print the per-resource table")
    run.add_argument("-q", "--quiet", action="store_true", help="summary only, no layer table")
    run.add_argument("--wide", action="store_true",
                     help="every table column (default: the most useful ones, in 100 columns)")
    run.add_argument("--train", nargs="?", const="all", metavar="all|last:N|classifier",
                     help="simulate one training step (forward, backward, weight update) of "
                          "the trace instead of an inference; which layers learn (default all)")
    from .options import count, seconds
    from ..sim.faults import MAX_SIM_S, MAX_WALL_S
    run.add_argument("--batch", type=int, default=1,
                     help="inputs processed together: inference batch, or training batch with "
                          "--train (default 1)")
    run.add_argument("--optimizer", default="sgd", choices=("sgd", "sgd_momentum", "adam"),
                     help="training optimizer (default sgd)")
    run.add_argument("--precision", metavar="fp32|fp16|int8|F,G[,O]", type=_precision,
                     help="training bit widths: a preset or forward,gradient[,optimizer] bits "
                          "(default: forward as the trace, gradients and optimizer 32)")
    run.add_argument("--max-sim-s", type=seconds(MAX_SIM_S), metavar="S",
                     help="stop after S simulated seconds (reports how far the run got)")
    run.add_argument("--max-wall-s", type=seconds(MAX_WALL_S), metavar="S",
                     help="stop after S wall-clock seconds (reports how far the run got)")
    run.set_defaults(func=_run)
    imp = sub.add_parser("import-onnx", help="convert an ONNX model into a layer trace")
    imp.add_argument("model", help="ONNX model file")
    imp.add_argument("-o", "--output", required=True, metavar="FILE", help="trace JSON to write")
    imp.add_argument("--name", help="trace name (default: the ONNX graph name)")
    imp.add_argument("--bits", type=count(1, 64), default=8,
                     help="bit width of tensors no Quantize/DequantizeLinear specifies (default 8)")
    imp.add_argument("--skip-unsupported", action="store_true",
                     help="leave unsupported nodes out (listed in the trace and in the run "
                          "report) instead of failing")
    imp.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...",
                     help="pin the shape of a graph input (symbolic dimensions), repeatable; "
                          "e.g. input=1,3,224,224")
    imp.add_argument("-v", "--verbose", action="store_true",
                     help="list every unsupported node (default: op types and counts)")
    imp.set_defaults(func=_import_onnx)
    ss = sub.add_parser("import-scalesim", help="SCALE-Sim topology CSV -> trace, .cfg -> platform")
    ss.add_argument("topology", help="SCALE-Sim topology CSV (conv or GEMM M,N,K variant)")
    ss.add_argument("-o", "--output", metavar="FILE", help="trace JSON to write")
    ss.add_argument("--cfg", metavar="CFG", help="SCALE-Sim .cfg to turn into a platform")
    ss.add_argument("--platform-out", metavar="FILE", help="platform YAML to write (with --cfg)")
    ss.add_argument("--bits", type=int, default=8, help="operand width (the format has none)")
    ss.add_argument("--no-depthwise-rows", action="store_true",
                    help="keep Num Filter = 1 rows as one-filter convolutions")
    ss.set_defaults(func=_import_scalesim)
    zz = sub.add_parser("import-zigzag", help="ZigZag workload YAML -> trace, hardware YAML -> "
                        "platform")
    zz.add_argument("--workload", metavar="YAML", help="ZigZag workload file")
    zz.add_argument("-o", "--output", metavar="FILE", help="trace JSON to write")
    zz.add_argument("--hardware", metavar="YAML", help="ZigZag hardware (core) file")
    zz.add_argument("--platform-out", metavar="FILE", help="platform YAML to write")
    zz.set_defaults(func=_import_zigzag)
    st = sub.add_parser("import-stream", help="Stream system YAML (cores + links) -> multi-core "
                        "platform")
    st.add_argument("system", help="Stream hardware system YAML (core files relative to it)")
    st.add_argument("-o", "--output", required=True, metavar="FILE", help="platform YAML to write")
    st.add_argument("--skip-missing-cores", action="store_true",
                    help="leave out cores whose file is missing (listed in the output)")
    st.set_defaults(func=_import_stream)
    from ..explore.compare import add_parser as _add_compare
    _add_compare(sub)
    sch = sub.add_parser("schema", help="print the JSON Schema of the platform or trace format")
    sch.add_argument("kind", choices=("platform", "trace"))
    sch.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    sch.set_defaults(func=_schema)
    from .explore import add_commands
    add_commands(sub)   # sweep, whatif, plot, report
    for name, sp in sub.choices.items():
        sp.formatter_class = argparse.RawDescriptionHelpFormatter
        sp.epilog = "examples:\n" + "\n".join("  " + e for e in EXAMPLES[name])
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except Interrupted as e:
        _error(e, "interrupted")
        return 130
    except KeyboardInterrupt:
        _error("interrupted (Ctrl-C) before any output was written", "interrupted")
        return 130
    except HwsimError as e:
        _error(e)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        sys.stderr.close()
        return 0
    except OSError as e:  # an output file or directory that cannot be written
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        _error(f"cannot write{where}: {e.strerror or e}")
        return 2


_CONTROL = dict.fromkeys(c for c in range(32) if c != 10)
_CONTROL[127] = None


def _error(e, kind: str = "error") -> None:
    """One ``hwsim: error: ...`` line on stderr; control characters from input files (names,
    values) are shown escaped, never sent to the terminal raw."""
    text = str(e)
    if kind == "interrupted":
        text = text if text.startswith("interrupted") else f"interrupted: {text}"
    text = "".join(ch if ord(ch) not in _CONTROL else repr(ch)[1:-1] for ch in text)
    print(f"hwsim: {'error: ' if kind == 'error' else ''}{text}", file=sys.stderr)


#: the examples ending each subcommand's --help (a test runs every one's --help)
EXAMPLES = {
    "run": ("hwsim run platforms/pulp_imc_cluster.yaml traces/mobilenetv2.json --timeline out/timeline.json",
            "hwsim run platforms/pulp_cluster.yaml traces/ds_cnn.json --set components.l1.size_bytes=131072 --resources"),
    "import-onnx": ("hwsim import-onnx model.onnx -o traces/model.json --skip-unsupported",
                    "hwsim import-onnx encoder.onnx -o out/enc.json --input-shape x=1,64,256 --verbose"),
    "import-scalesim": ("hwsim import-scalesim mobilenet.csv -o out/mobilenet.json --cfg scale.cfg "
                        "--platform-out out/scale.yaml",),
    "import-zigzag": ("hwsim import-zigzag --workload resnet18.yaml -o out/resnet18.json "
                      "--hardware tpu_like.yaml --platform-out out/tpu_like.yaml",),
    "import-stream": ("hwsim import-stream tpu_like_quad_core.yaml -o out/quad.yaml "
                      "--skip-missing-cores",),
    "compare": ("hwsim compare traces/mobilenetv2_bottleneck.json -p platforms/pulp_cluster.yaml \\\n"
                "      -p platforms/pulp_imc_cluster.yaml:mapping.accelerators=off -p platforms/pulp_imc_cluster.yaml",),
    "schema": ("hwsim schema platform -o docs/schema/platform.schema.json",),
    "sweep": ("hwsim sweep platforms/pulp_cluster.yaml traces/ds_cnn.json --grid l1.size_bytes=16000,32000,64000 \\\n"
              "      --grid cluster.cores=2,4,8 -o out/sweep.jsonl",),
    "whatif": ("hwsim whatif platforms/pulp_imc_cluster.yaml traces/mobilenetv2.json --factor 2",),
    "report": ("hwsim report platforms/pulp_imc_cluster.yaml traces/mobilenetv2.json -o out/report.html",
               "hwsim report platforms/pulp_cluster.yaml traces/ds_cnn.json -o out/ds_cnn.html --no-whatif"),
    "plot": ("hwsim plot roofline platforms/pulp_imc_cluster.yaml traces/mobilenetv2.json -o out/roofline.png",
             "hwsim plot gantt --timeline out/timeline.json -o out/gantt.svg"),
}


def _schema(args) -> int:
    from ..hardware.schema import schema_text

    text = schema_text(args.kind)
    if args.output:
        from ..base.limits import write_text_atomic
        write_text_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

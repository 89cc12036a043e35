"""The `poolscope` command: serve, generate, load, read logs, build dashboards, run benchmarks.

poolscope serve --model default --port 8000
poolscope generate --model default --prompt "Hello" --max-tokens 64
poolscope generate --demo kv_double_free
poolscope loadgen --url http://127.0.0.1:8000 --concurrency 4 --duration 30

Each verb imports only what it runs: every `--help`, and the verbs that run no model (logs,
dashboards, alert-sink, loadgen), start without importing torch (tests/test_cli_startup.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.engine.config import EngineConfig
    from runtime.engine.engine import Engine

DEFAULT_PROMPT = "Hybrid models keep several memory pools at once:"
EXIT_LEAK = 3  # the memory check found a leak (raised, or counted without --on-leak count)
GENERATE_EPILOG = f"""\
exit status: 0 when the memory check stayed clean; {EXIT_LEAK} when it counted a leak or double free
(with --on-leak raise, or unless --on-leak count is given explicitly); 2 for bad input.

--demo FAULT turns the fault point on and runs a workload that makes it fire, for example
  poolscope generate --demo session_close_leaks_mamba
(the default prompt alone reaches none of them)."""


def _add_generate(sub: argparse._SubParsersAction) -> None:
    from runtime.engine.args import add_engine_args
    from runtime.memory.faults import FAULT_POINTS

    p = sub.add_parser(
        "generate", help="load a model, generate from prompts, print text and tokens/s",
        description="Generates offline through the engine and its memory pools, prints the "
        "text, tokens/s and what the memory check counted.", epilog=GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--prompt", action="append", help="prompt text; repeat for a batch")
    p.add_argument("--max-tokens", type=int, default=64, help="new tokens per prompt")
    p.add_argument("--temperature", type=float, default=0.0, help="0 is greedy")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--ignore-eos", action="store_true", help="always generate --max-tokens tokens")
    p.add_argument(
        "--demo", choices=sorted(FAULT_POINTS), metavar="FAULT", default=None,
        help="show a memory fault point firing: turn it on and run a workload that reaches it "
        "(instead of --prompt): " + ", ".join(sorted(FAULT_POINTS)),
    )
    add_engine_args(p)
    # None tells an explicit `--on-leak count` (exit 0 on a counted leak) from the default
    p.set_defaults(run=_run_generate, on_leak=None)


def _add_serve(sub: argparse._SubParsersAction) -> None:
    from runtime.engine.args import add_engine_args
    from runtime.engine.observability import add_observability_args

    p = sub.add_parser("serve", help="serve a model over an OpenAI-compatible HTTP API")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port to bind (0: any free port)")
    p.add_argument(
        "--api-key", default=None,
        help="require 'Authorization: Bearer KEY' on all routes but /health and /metrics "
        "(default: $POOLSCOPE_API_KEY, else no key)",
    )
    p.add_argument("--max-body-bytes", type=int, default=1 << 20, help="largest request body")
    p.add_argument("--drain-timeout", type=float, default=30.0,
                   help="on SIGTERM, seconds running requests may still finish; the rest then "
                   "end with a 503 / error event saying the server is shutting down (default: "
                   "30)")
    add_engine_args(p)
    add_observability_args(p)
    p.set_defaults(run=_run_serve)


def _load_engine(args: argparse.Namespace, config: EngineConfig | None = None) -> Engine:
    from runtime.engine.args import config_from_args
    from runtime.engine.engine import Engine
    from runtime.model.default_model import default_model_dir

    config = config or config_from_args(args)
    if config.model == "default" and not (default_model_dir() / "config.json").is_file():
        print(f"creating the default model in {default_model_dir()} ...", file=sys.stderr)
    return Engine.from_config(config)


def _run_generate(args: argparse.Namespace) -> int:
    from runtime.memory.memory_config import LeakPolicy

    is_count_explicit = args.on_leak is LeakPolicy.COUNT
    args.on_leak = args.on_leak or LeakPolicy.COUNT
    if args.demo is not None:
        from runtime.cli.demo import demo_config, run_demo

        if args.prompt:
            raise ValueError("--demo runs its own workload; leave out --prompt")
        engine = _load_engine(args, demo_config(args, args.demo))
        run_demo(engine, args.demo)
    else:
        engine = _load_engine(args)
        _generate(engine, args)
    return _report_memory_check(engine, is_count_explicit)


def _generate(engine: Engine, args: argparse.Namespace) -> None:
    import time

    from runtime.scheduler.sampling_params import SamplingParams

    params = SamplingParams(max_tokens=args.max_tokens, temperature=args.temperature,
                            seed=args.seed, ignore_eos=args.ignore_eos)
    prompts = args.prompt or [DEFAULT_PROMPT]
    start = time.perf_counter()
    results = engine.generate(prompts, params)
    seconds = time.perf_counter() - start
    for prompt, result in zip(prompts, results, strict=True):
        print(f"prompt: {prompt!r}\noutput: {result.text!r}")
    generated = sum(len(r.token_ids) for r in results)
    lm = engine.lm
    print(f"model {lm.config.model_type} on {engine.device} ({args.dtype}): {generated} tokens"
          f" in {seconds:.2f} s = {generated / max(seconds, 1e-9):.1f} tokens/s")


def _report_memory_check(engine: Engine, is_count_explicit: bool) -> int:
    """Prints what the checker counted; EXIT_LEAK when it counted anything, unless the user
    asked for `--on-leak count` (count and carry on)."""
    leaks = engine.mm.leak_counts
    counted = sorted((pool.value, leak_kind.value, n) for (pool, leak_kind), n in leaks.items())
    print("memory check: " + (", ".join(f"{pool} {leak_kind} x{n}"
                                         for pool, leak_kind, n in counted) or "clean"))
    faults = sorted(engine.config.faults)
    if not leaks and faults:
        print(f"note: fault point(s) {', '.join(faults)} did not fire on this workload; "
              f"`poolscope generate --demo {faults[0]}` runs one that reaches it")
    if not leaks or is_count_explicit:
        return 0
    print(f"poolscope: the memory check counted leaks: exit {EXIT_LEAK} "
          "(--on-leak count exits 0)", file=sys.stderr)
    return EXIT_LEAK


def _run_serve(args: argparse.Namespace) -> int:
    from runtime.config import env_settings
    from runtime.engine.observability import log_settings_from_args, observability_from_args
    from runtime.server.app import ServerSettings
    from runtime.server.serve import serve
    from telemetry.logs.logging import configure_logging

    api_key = args.api_key or env_settings().api_key
    settings = ServerSettings(host=args.host, port=args.port, api_key=api_key,
                              max_body_bytes=args.max_body_bytes,
                              drain_timeout_s=args.drain_timeout)
    observability = observability_from_args(args)
    configure_logging(log_settings_from_args(args))
    engine = _load_engine(args)

    def ready(url: str) -> None:
        print(
            f"poolscope: serving {engine.config.model} on {url} (OpenAI API under {url}/v1)",
            file=sys.stderr,
            flush=True,
        )

    reason = serve(engine, settings, observability, on_ready=ready)
    return 1 if reason == "engine_error" else 0


def build_parser() -> argparse.ArgumentParser:
    from runtime.cli.alert_sink import add_parser as add_alert_sink
    from runtime.cli.bench import add_parser as add_bench
    from runtime.cli.dashboards import add_parser as add_dashboards
    from runtime.cli.deploy import add_parser as add_deploy
    from runtime.cli.logs import add_parser as add_logs
    from runtime.cli.parser import CommandParser
    from runtime.loadgen.args import add_parser as add_loadgen

    parser = CommandParser(prog="poolscope", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    _add_serve(sub)
    _add_generate(sub)
    add_loadgen(sub)
    add_logs(sub)
    add_dashboards(sub)
    add_deploy(sub)
    add_alert_sink(sub)
    add_bench(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["logs"]:  # reads log files only: skip the engine imports (torch)
        from runtime.cli.logs import main as logs_main

        return logs_main(argv[1:])
    if argv[:1] == ["alert-sink"]:  # an HTTP receiver only: no engine imports either
        from runtime.cli.alert_sink import main as alert_sink_main

        return alert_sink_main(argv[1:])
    if argv[:1] == ["deploy"]:  # writes manifests only: no engine imports either
        from runtime.cli.deploy import main as deploy_main

        return deploy_main(argv[1:])
    from runtime.memory.checker import LeakDetected

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as exc:  # CheckpointError is a ValueError: one line, no traceback
        print(f"poolscope: error: {exc}", file=sys.stderr)
        return 2
    except LeakDetected as exc:  # only with --on-leak raise
        print(f"poolscope: error: {exc}", file=sys.stderr)
        return EXIT_LEAK


if __name__ == "__main__":
    sys.exit(main())

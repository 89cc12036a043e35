"""The `poolscope` command. Each verb imports only what it needs, so `poolscope --help` is instant.

poolscope generate --model default --prompt "Hello" --max-tokens 64
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from runtime.memory.checker import LeakDetected

DEFAULT_PROMPT = "Hybrid models keep several memory pools at once:"


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="load a model, generate from prompts, print text and tokens/s"
    )
    p.add_argument(
        "--model",
        default="default",
        help="'default' (built-in poolscope_hybrid) or a model directory",
    )
    p.add_argument("--prompt", action="append", help="prompt text; repeat for a batch")
    p.add_argument("--max-tokens", type=int, default=64, help="new tokens per prompt")
    p.add_argument("--temperature", type=float, default=0.0, help="0 is greedy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk-size", type=int, default=256, help="prefill chunk, tokens per request")
    p.add_argument("--ignore-eos", action="store_true", help="always generate --max-tokens tokens")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16")
    p.add_argument(
        "--mem-check",
        default="idle",
        choices=["idle", "busy", "off"],
        help="memory invariant check: at idle, also after every step, or never",
    )
    p.add_argument(
        "--on-leak",
        default="count",
        choices=["count", "warn", "raise"],
        help="what a failed memory check does besides counting",
    )
    p.add_argument("--inject-fault", action="append", default=[], metavar="NAME",
                   help="turn on a named memory fault point (demo); repeatable")  # fmt: skip
    p.set_defaults(run=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from runtime.config import resolve_device, resolve_dtype
    from runtime.generate import GenerationParams, Generator, MemoryOptions
    from runtime.memory.checker import CheckMode
    from runtime.memory.faults import parse_faults
    from runtime.memory.memory_config import LeakPolicy
    from runtime.model.default_model import default_model_dir, resolve_model_path
    from runtime.model.loader import load_model

    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)
    params = GenerationParams(
        max_new_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
        chunk_size=args.chunk_size,
        ignore_eos=args.ignore_eos,
    )
    memory = MemoryOptions(
        check_mode=CheckMode(args.mem_check),
        on_leak=LeakPolicy(args.on_leak),
        faults=parse_faults(args.inject_fault),
    )
    if args.model == "default" and not (default_model_dir() / "config.json").is_file():
        print(f"creating the default model in {default_model_dir()} ...", file=sys.stderr)
    lm = load_model(resolve_model_path(args.model), device=device, dtype=dtype)
    prompts = args.prompt or [DEFAULT_PROMPT]
    generator = Generator(lm, device, dtype, memory)
    result = generator.generate([lm.tokenizer.encode(p) for p in prompts], params)
    for prompt, output in zip(prompts, result.outputs, strict=True):
        print(f"prompt: {prompt!r}\noutput: {lm.tokenizer.decode(output)!r}")
    decode_rate = result.num_generated / max(result.prefill_seconds + result.decode_seconds, 1e-9)
    print(
        f"model {lm.config.model_type} on {device} ({args.dtype}): {result.num_generated} tokens "
        f"in {result.prefill_seconds + result.decode_seconds:.2f} s = {decode_rate:.1f} tokens/s "
        f"(prefill {result.prefill_seconds:.2f} s, decode {result.decode_seconds:.2f} s)"
    )
    leaks = generator.mm.leak_counts
    print("memory check: " + (", ".join(f"{pool} {kind} x{n}" for (pool, kind), n in
                                         sorted(leaks.items())) or "clean"))  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="poolscope", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    _add_generate(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as exc:  # CheckpointError is a ValueError: one line, no traceback
        print(f"poolscope: error: {exc}", file=sys.stderr)
        return 2
    except LeakDetected as exc:  # only with --on-leak raise
        print(f"poolscope: error: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())

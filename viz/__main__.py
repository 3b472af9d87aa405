"""``python -m viz NAME -o PATH``: render a named example picture (``--list`` shows them)."""
from __future__ import annotations

import argparse
import sys

from .dot import DETAILS, MAX_NODES
from .examples import EXAMPLES, FUSED, make


def parser() -> argparse.ArgumentParser:
    """The ``python -m viz`` argument parser."""
    p = argparse.ArgumentParser(prog="python -m viz", description="Render minigrad's example pictures.")
    p.add_argument("name", nargs="?", help="example to render (see --list)")
    p.add_argument("-o", "--output", help="file to write (default: NAME.svg, or NAME.html for anim)")
    p.add_argument("--list", action="store_true", help="list the examples and exit")
    p.add_argument("--steps", type=int, help="time steps to unroll")
    p.add_argument("--hidden", type=int, help="hidden units")
    p.add_argument("--detail", choices=DETAILS, default="ops", help="level of detail of graph pictures")
    p.add_argument("--keep-steps", type=int, help="draw only the first and last K steps")
    p.add_argument("--max-nodes", type=int, default=MAX_NODES,
                   help=f"collapse bigger graphs (default {MAX_NODES})")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="lstm",
                   help="cell for shares/anim/explode (default lstm)")
    p.add_argument("--fused", choices=tuple(FUSED), default="ops",
                   help="record each layer op by op (default), one node per step, or one node per sequence")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> int:
    """Render one example (or list them); returns the exit status."""
    args = parser().parse_args(argv)
    if args.list or not args.name:
        width = max(map(len, EXAMPLES))
        for name, (_, _, about) in EXAMPLES.items():
            print(f"{name:<{width}}  {about}")
        return 0
    if args.name not in EXAMPLES:
        print(f"unknown example {args.name!r}; choose from: {', '.join(EXAMPLES)}", file=sys.stderr)
        return 2
    print(make(args.name, args, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())

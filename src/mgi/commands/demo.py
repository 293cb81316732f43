"""``mgi demo synthesize``: write the embedded demo cohort."""

from __future__ import annotations

import argparse
from dataclasses import fields


def register(sub: argparse._SubParsersAction) -> None:
    from mgi.synthetic import DemoSpec

    demo = sub.add_parser("demo", help="the embedded demo cohort")
    demo_sub = demo.add_subparsers(dest="action", required=True)
    p = demo_sub.add_parser("synthesize", help="write a demo cohort in the real file formats")
    p.add_argument("--out", required=True, help="output folder (replaced atomically)")
    for f in fields(DemoSpec):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    p.set_defaults(func=_synthesize)


def _synthesize(args: argparse.Namespace) -> int:
    from mgi.synthetic import DemoSpec, synthesize

    spec = DemoSpec(**{f.name: getattr(args, f.name) for f in fields(DemoSpec)})
    synthesize(spec, args.out)
    return 0

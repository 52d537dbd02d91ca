"""The command line the Module 5 demos share: --steps, --quick, --out, --figures, --seed."""

from ..run import parser as demo_parser


def training_demo_parser(name, description, full_steps, quick_steps, figure_name,
                         steps_help="updates per model", quick_help="tiny models, a short run"):
    """A demo's parser with the options every Module 5 demo has; add its own after."""
    parser = demo_parser(name, description)
    parser.add_argument("--steps", type=int, help=f"{steps_help} (default {full_steps}; "
                                                  f"{quick_steps} with --quick)")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", metavar="DIR", default=f"runs/{name}",
                        help=f"output directory (default runs/{name})")
    parser.add_argument("--figures", metavar="DIR", help=f"where {figure_name} goes "
                                                         "(default: --out)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    return parser


def parse(parser, argv):
    """The arguments, with --steps (and --rank, where there is one) at least 1."""
    args = parser.parse_args(argv)
    for option in ("steps", "rank"):
        value = getattr(args, option, None)
        if value is not None and value < 1:
            parser.error(f"--{option} must be at least 1")
    return args

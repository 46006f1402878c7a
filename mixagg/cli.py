"""The ``mixagg`` command: ``demo``, ``simulate``, ``fit``, ``aggregate``, ``theory``.

``fit`` is one machine's job, ``aggregate`` the server's job.

Errors are one line on stderr and a non-zero exit code (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, wire
from .data_files import read_data, write_data
from .demo import FAILURES, DemoSettings, demo_truth, run_demo
from .em import fit_mixture
from .exceptions import RejectedEstimatesWarning
from .families import get_family
from .metrics import w1
from .rejection import Rejected
from .robust import METHODS, Option, aggregate, get_method

__all__ = ["main"]


# ---------------------------------------------------------------------------------------------- helpers


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"must be in [0, 0.5), got {text}")
    return value


def _read_truth(path: str) -> Any:
    got = wire.loads(Path(path).read_bytes())
    if isinstance(got, Rejected):
        raise ValueError(f"truth file {path!r} is not a valid estimate: {got.reason}")
    return got


def _write_json(path: str | Path, obj: Any) -> Path:
    p = Path(path)
    if p.parent != Path(""):
        p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, indent=1, allow_nan=False))
    return p


def _summary(g: Any) -> str:
    with np.printoptions(precision=4, suppress=True, threshold=12):
        return f"{g.family!r}, K = {g.n_components}, weights {np.asarray(g.weights)}"


# ---------------------------------------------------------------------------------------------- commands


def cmd_demo(args: argparse.Namespace) -> int:
    overrides = {
        "family": args.family,
        "m": args.m,
        "n": args.n,
        "alpha": args.alpha,
        "seed": args.seed,
        "K": args.K,
        "d": args.d,
        "max_omega": args.max_omega,
        "workers": args.workers,
        "out": Path(args.out) if args.out else None,
        "init": args.init,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.family not in (None, "gaussian") and any(v is not None for v in (args.K, args.d, args.max_omega)):
        raise ValueError(
            f"-K, -d and --max-omega choose the MixSim truth of --family gaussian; the {args.family} truth is fixed"
        )
    settings = DemoSettings.quick(**overrides) if args.quick else DemoSettings(**overrides)
    if settings.m < 3 or settings.n < 2 * settings.m:
        raise ValueError(f"--m must be at least 3 and --n at least 2 * m, got m = {settings.m}, n = {settings.n}")
    print(f"mixagg {__version__} demo: {settings.family}, seed {settings.seed}{' (quick)' if args.quick else ''}")
    run_demo(settings, progress=not args.no_progress)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    settings = DemoSettings(family=args.family, seed=args.seed, K=args.K, d=args.d, max_omega=args.max_omega)
    if args.family != "gaussian" and (args.K != 5 or args.d != 10):
        raise ValueError(f"-K and -d choose the MixSim truth of --family gaussian; the {args.family} truth is fixed")
    if args.m > args.n:
        raise ValueError(f"--m ({args.m} shards) must not exceed --n ({args.n} samples)")
    truth, where = demo_truth(settings)
    rng = np.random.default_rng(args.seed)
    x = truth.sample(args.n, rng)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    truth_path = _write_json(out / "truth.json", json.loads(wire.dumps(truth, machine_id="truth")))
    columns = [f"x{j + 1}" for j in range(x.shape[1])] if x.ndim == 2 else ["x"]
    paths = [
        write_data(out / f"shard_{i:03d}.{args.format}", part, header=columns if args.format == "csv" else None)
        for i, part in enumerate(np.array_split(x, args.m))
    ]
    print(
        f"truth: {where}\nwrote {truth_path} and {len(paths)} shards of about {args.n // args.m} rows "
        f"({paths[0].name} ... {paths[-1].name}) to {out}"
    )
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    x = read_data(args.data)
    if args.init in ("kmeans++", "random"):
        init: Any = args.init
    else:
        init = _read_truth(args.init)
    fit = fit_mixture(
        x,
        args.family,
        args.K,
        init=init,
        n_init=1 if not isinstance(init, str) else args.n_init,
        penalty=None if args.penalty == "none" else "auto",
        rng=args.seed,
    )
    machine_id = args.machine_id if args.machine_id is not None else Path(args.data).stem
    d = fit.diagnostics
    text = wire.dumps(
        fit,
        machine_id=machine_id,
        metadata={"converged": bool(d.converged), "n_iter": int(d.n_iter), "source": Path(args.data).name},
    )
    out = Path(args.output)
    if out.parent != Path(""):
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    state = "converged" if d.converged else "did NOT converge"
    print(f"{machine_id}: {len(x)} observations, {_summary(fit)}; EM {state} after {d.n_iter} iterations -> {out}")
    return 0


def _expected_family(name: str | None) -> tuple[Any, str | None]:
    """``--family``: a full family, or only a name when its settings (Gaussian's d) come from the estimates."""
    if name is None:
        return None, None
    try:
        return get_family(name), None
    except TypeError:  # settings missing (an unknown name is a ValueError): checked by name, the rest by the majority
        return None, name


def _command_line_options() -> dict[str, Option]:
    """The options the offered rules put on the command line, by name (the first declaration's help)."""
    out: dict[str, Option] = {}
    for rule in METHODS.values():
        if rule.command_line:
            for option in rule.declared_options().values():
                if option.command_line is not None:
                    out.setdefault(option.name, option)
    return out


def _option_parser(option: Option) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return option.validate(option.command_line(text))
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _rule_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line, each checked to be one the chosen rule declares."""
    declared = get_method(args.method).declared_options()
    options = {}
    for name, option in _command_line_options().items():
        value = getattr(args, f"rule_{name}", None)
        if value is None:
            continue
        if name not in declared:
            takers = [r for r, rule in METHODS.items() if rule.command_line and name in rule.declared_options()]
            raise ValueError(f"{option.flag} applies to --method {' or '.join(takers)}, not {args.method}")
        options[name] = value
    return options


def cmd_aggregate(args: argparse.Namespace) -> int:
    sources = list(args.estimates)
    truth = _read_truth(args.truth) if args.truth else None
    family, name = _expected_family(args.family)
    try:
        entries = wire.agree_with_majority(
            wire.load_many(sources, family=family, n_components=args.K), family_name=name
        )
    except ValueError as exc:
        raise ValueError(f"{exc}: choose with --family and -K") from None
    entries = [
        Rejected(e.machine_id, e.reason, e.source or s) if isinstance(e, Rejected) else e
        for e, s in zip(entries, sources)
    ]
    rejected = {i: e for i, e in enumerate(entries) if isinstance(e, Rejected)}
    print(f"read {len(entries)} estimates: {len(entries) - len(rejected)} valid, {len(rejected)} rejected")
    for i, r in rejected.items():
        print(f"  REJECTED [{i}] {r.source}: {r.reason}")
    if len(rejected) == len(entries):
        raise ValueError("every estimate was rejected; there is nothing to aggregate")
    options = _rule_options(args)
    sizes = [None if isinstance(e, Rejected) else e.n_samples for e in entries]
    if all(s is not None for i, s in enumerate(sizes) if i not in rejected):
        options["sample_sizes"] = [1.0 if s is None else s for s in sizes]
    with warnings.catch_warnings():  # the rejection report above says it already
        warnings.simplefilter("ignore", RejectedEstimatesWarning)
        res = aggregate(entries, args.method, **options)
    names = [str(e.machine_id if e.machine_id is not None else Path(s).stem) for e, s in zip(entries, sources)]
    left_out = [names[i] for i in res.excluded if i not in rejected]
    print(
        f"{args.method}: aggregated {res.selected.size} of {len(entries)} machines"
        + (f"; filtered out {len(left_out)}: {', '.join(left_out)}" if left_out else "")
    )
    for text in res.warnings[1:] if res.rejected else res.warnings:  # the rejection note comes first: printed above
        print(f"  note: {text}")
    print(f"aggregate: {_summary(res.mixture)}")
    report: dict[str, Any] = {
        "estimate": json.loads(wire.dumps(res.mixture, machine_id=f"{args.method}-aggregate")),
        "inputs": sources,
        "machine_names": names,
        "aggregation": res.to_dict(),
    }
    if truth is not None:
        report["w1_to_truth"] = w1(res.mixture, truth)
        print(f"W1 to the truth: {report['w1_to_truth']:.6g}")
    out = _write_json(args.output, report)
    print(f"-> {out}")
    return 0


def cmd_theory(args: argparse.Namespace) -> int:
    from .theory import concentration_report

    truth = _read_truth(args.truth)
    entries = wire.load_many(args.estimates, family=truth.family, n_components=truth.n_components)
    valid = [e for e in entries if not isinstance(e, Rejected)]
    for e, s in zip(entries, args.estimates):
        if isinstance(e, Rejected):
            print(f"  REJECTED {s}: {e.reason}")
    if len(valid) < 2:
        raise ValueError(f"need at least 2 valid estimates for a concentration report, got {len(valid)}")
    report = concentration_report(valid, truth, args.n, pairwise=args.pairwise, rng=args.seed)
    print(report)
    if args.output:
        print(f"-> {_write_json(args.output, report.to_dict())}")
    if args.plot:
        fig = report.plot(title="distances of the local estimates against their predicted law")
        fig.savefig(args.plot, dpi=110)
        print(f"-> {args.plot}")
    return 0


# ---------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands ``demo``, ``simulate``, ``fit``, ``aggregate``, ``theory``)."""
    parser = argparse.ArgumentParser(
        prog="mixagg", description="Byzantine-tolerant distributed learning of finite mixtures."
    )
    parser.add_argument("--version", action="version", version=f"mixagg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="one Byzantine split-and-conquer experiment: every estimator, a table and a figure")
    p.add_argument("--quick", action="store_true", help="CI scale (K = 3, d = 2, m = 20, N = 20,000): about 10 s")
    p.add_argument("--family", choices=sorted(FAILURES), help="gaussian (MixSim truth, default), gamma or poisson")
    p.add_argument("--m", type=_positive_int, help="number of machines (default 50; quick 20)")
    p.add_argument("--n", type=_positive_int, help="total number of samples N (default 100,000; quick 20,000)")
    p.add_argument("--alpha", type=_fraction, help="fraction of failed machines (default 0.2)")
    p.add_argument("--seed", type=int, help="random seed (default 2026)")
    p.add_argument("-K", type=_positive_int, help="components of the MixSim truth (default 5; quick 3)")
    p.add_argument("-d", type=_positive_int, help="dimension of the MixSim truth (default 10; quick 2)")
    p.add_argument("--max-omega", type=float, help="MixSim MaxOmega (default 0.3; quick 0.1)")
    p.add_argument("--init", choices=("truth", "kmeans++"), help="EM start (default: the truth, as in the papers)")
    p.add_argument(
        "--workers", type=_positive_int, help="fit the machines in this many processes (default: in-process)"
    )
    p.add_argument("--out", help="output directory for demo.png and demo.json (default ./mixagg-demo)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("simulate", help="a ground truth and data shards (.csv or .npy), one per machine")
    p.add_argument("-o", "--out", required=True, help="output directory (truth.json and shard_000.csv, ...)")
    p.add_argument("--family", choices=sorted(FAILURES), default="gaussian")
    p.add_argument("--n", type=_positive_int, default=10_000, help="total number of samples (default 10,000)")
    p.add_argument("--m", type=_positive_int, default=1, help="number of shards (default 1)")
    p.add_argument("-K", type=_positive_int, default=5, help="components of the MixSim truth (default 5)")
    p.add_argument("-d", type=_positive_int, default=10, help="dimension of the MixSim truth (default 10)")
    p.add_argument("--max-omega", type=float, default=0.3, help="MixSim MaxOmega (default 0.3)")
    p.add_argument("--format", choices=("csv", "npy", "txt"), default="csv")
    p.add_argument("--seed", type=int, default=2026)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("fit", help="one machine's job: fit a mixture to a data file and write the estimate as JSON")
    p.add_argument("data", help="a .csv, .txt or .npy file, one observation per row")
    p.add_argument("-K", type=_positive_int, required=True, help="number of components")
    p.add_argument("--family", default="gaussian", help="gaussian, gamma, poisson, exponential or a registered name")
    p.add_argument("-o", "--output", required=True, help="where to write the estimate (JSON)")
    p.add_argument("--machine-id", help="id sent with the estimate (default: the data file's name)")
    p.add_argument("--init", default="kmeans++", help="kmeans++ (default), random, or a JSON estimate to start from")
    p.add_argument("--n-init", type=_positive_int, default=3, help="starts for kmeans++/random (default 3)")
    p.add_argument(
        "--penalty", choices=("auto", "none"), default="auto", help="the papers' penalty (auto) or plain MLE"
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser(
        "aggregate", help="the server's job: robustly aggregate JSON estimates (malformed ones are reported)"
    )
    p.add_argument("estimates", nargs="+", help="JSON estimate files")
    offered = [name for name, rule in METHODS.items() if rule.command_line]
    p.add_argument(
        "--method",
        choices=offered,
        default="dfmr",
        help="the rule (default dfmr); the oracle needs the true failures and is not offered",
    )
    for option in _command_line_options().values():
        p.add_argument(option.flag, type=_option_parser(option), dest=f"rule_{option.name}", help=option.help)
    p.add_argument("--family", help="expected family name, e.g. gaussian or gamma (default: the majority's)")
    p.add_argument("-K", type=_positive_int, help="expected number of components (default: the majority's)")
    p.add_argument("--truth", help="a JSON truth: report W1 of the aggregate to it")
    p.add_argument("-o", "--output", required=True, help="where to write the result (JSON)")
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser("theory", help="distances of honest estimates to a truth against their predicted law")
    p.add_argument("estimates", nargs="+", help="JSON estimate files (failure-free)")
    p.add_argument("--truth", required=True, help="the JSON truth G*")
    p.add_argument("--n", type=float, help="local sample size (default: what each estimate reports)")
    p.add_argument("--pairwise", action="store_true", help="all pairwise distances instead of distances to the truth")
    p.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo Fisher information")
    p.add_argument("-o", "--output", help="write the report as JSON")
    p.add_argument("--plot", help="write the cdf/QQ figure (PNG)")
    p.set_defaults(func=cmd_theory)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mixagg`` console script and ``python -m mixagg``."""
    parser = build_parser()
    args = parser.parse_args(argv)

    def one_line(message, category, filename, lineno, file=None, line=None):
        print(f"mixagg {args.command}: {category.__name__}: {' '.join(str(message).split())}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            if not args.debug:
                warnings.showwarning = one_line
            return args.func(args)
    except KeyboardInterrupt:
        print("mixagg: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"mixagg {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

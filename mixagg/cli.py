"""The ``mixagg`` command: ``demo``, ``simulate``, ``fit``, ``aggregate``, ``theory`` (``docs/cli.md``).

``fit`` is one machine's job, ``aggregate`` the server's job. Each command imports the numerical
libraries it needs when it runs, so ``mixagg --help`` and argument errors answer at once.

Errors are one line on stderr; the exit status is one of :data:`EXIT_CODES` (``--debug`` shows the
traceback). ``--import MODULE`` imports a module that registers families or rules, and the installed
entry points are loaded before a command runs (``docs/plugins.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__

__all__ = ["EXIT_CODES", "build_parser", "main"]

#: What the exit status of ``mixagg`` means (``docs/cli.md``).
EXIT_CODES = {
    0: "success",
    1: "the command failed (one line on stderr, --debug for the traceback)",
    2: "usage error (an unknown option or a bad argument value)",
    3: "aggregate: the result was written, but the majority the rule needs is doubtful (--allow-no-majority: 0)",
    130: "interrupted (Ctrl-C)",
}

COMMANDS = ("demo", "simulate", "fit", "aggregate", "theory")


# ---------------------------------------------------------------------------------------------- helpers


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _positive_number(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _number(text)
    if not 0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 0.5), got {text!r}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _demo_family(text: str) -> str:
    from .demo import FAILURES

    if text not in FAILURES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(sorted(FAILURES))}, got {text!r}")
    return text


def _column_list(text: str) -> list[str | int]:
    from .data_files import parse_columns

    try:
        return parse_columns(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _column(text: str) -> str | int:
    columns = _column_list(text)
    if len(columns) != 1:
        raise argparse.ArgumentTypeError(f"must name one column (a name or a 0-based position), got {text!r}")
    return columns[0]


def _read_truth(path: str) -> Any:
    from . import wire
    from .rejection import Rejected

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
    import numpy as np

    with np.printoptions(precision=4, suppress=True, threshold=12):
        return f"{g.family!r}, K = {g.n_components}, weights {np.asarray(g.weights)}"


def _progress(args: argparse.Namespace) -> bool | str:
    """``--verbose`` forces the progress display, ``--no-progress`` turns it off; by default it shows on a terminal."""
    if getattr(args, "no_progress", False):
        return False
    return True if getattr(args, "verbose", False) else "auto"


# ---------------------------------------------------------------------------------------------- commands


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import DemoSettings, run_demo

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
    run_demo(settings, progress=_progress(args))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from . import wire
    from .data_files import write_data
    from .demo import DemoSettings, demo_truth

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


def _elided(names: Sequence[str], limit: int = 8) -> str:
    shown = list(names) if len(names) <= limit else [*names[: limit - 2], "...", names[-1]]
    return ", ".join(shown)


def _orders(text: str) -> list[int]:
    """``-K`` of ``aggregate``: one order, a range ``lo-hi`` or a list ``a,b,c``."""
    try:
        if "-" in text:
            lo, hi = (int(t) for t in text.split("-", 1))
            orders = list(range(lo, hi + 1))
        else:
            orders = sorted({int(t) for t in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an order, 'lo-hi' or 'a,b,c', got {text!r}") from None
    if not orders or min(orders) < 1:
        raise argparse.ArgumentTypeError(f"orders must be positive integers, got {text!r}")
    return orders


def _family_argument(text: str) -> Any:
    """``--family``: a registered name, or a JSON object with the family's settings
    (``{"name": "categorical", "levels": [3, 3, 4]}``)."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--family {text!r} is not a family name or a JSON object: {exc}") from None
    if not isinstance(spec, dict):
        raise ValueError(f"--family must be a family name or a JSON object, got {text!r}")
    return spec


def cmd_fit(args: argparse.Namespace) -> int:
    from . import wire
    from .data_files import read_table
    from .em import fit_mixture

    started = time.perf_counter()
    table = read_table(
        args.data, columns=args.columns, drop=args.drop, index_col=args.index_col, header=args.header, na=args.na
    )
    x = table.values[:, 0] if table.values.shape[1] == 1 else table.values
    dropped = f", {table.n_dropped} rows with missing values dropped" if table.n_dropped else ""
    print(
        f"read {args.data}: {table.values.shape[0]} rows, {table.values.shape[1]} columns "
        f"({_elided(table.columns)}){dropped}"
    )
    init: Any = args.init if args.init in ("kmeans++", "random") else _read_truth(args.init)
    fit = fit_mixture(
        x,
        _family_argument(args.family),
        args.K,
        init=init,
        n_init=1 if not isinstance(init, str) else args.n_init,
        penalty=None if args.penalty == "none" else "auto",
        tol=args.tol,
        max_iter=args.max_iter,
        rng=args.seed,
        progress=_progress(args),
        covariance_type=args.covariance_type,
    )
    machine_id = args.machine_id if args.machine_id is not None else Path(args.data).name.split(".")[0]
    d = fit.diagnostics
    text = wire.dumps(
        fit,
        machine_id=machine_id,
        metadata={
            "converged": bool(d.converged),
            "n_iter": int(d.n_iter),
            "source": Path(args.data).name,
            "columns": list(table.columns),
        },
    )
    out = Path(args.output)
    if out.parent != Path(""):
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    state = "converged" if d.converged else f"did NOT converge (raise --max-iter, now {args.max_iter})"
    print(
        f"{machine_id}: {d.n_observations} observations, {_summary(fit)}; EM {state} after {d.n_iter} iterations, "
        f"log-likelihood {d.loglik:.6g}, {time.perf_counter() - started:.1f} s -> {out}"
    )
    return 0


def _command_line_options() -> dict[str, Any]:
    """The options the offered rules put on the command line, by name (the first declaration's help)."""
    from .robust import METHODS

    out: dict[str, Any] = {}
    for rule in METHODS.values():
        if rule.command_line:
            for option in rule.declared_options().values():
                if option.command_line is not None:
                    out.setdefault(option.name, option)
    return out


def _option_parser(option: Any) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return option.validate(option.command_line(text))
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _rule_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line, each checked to be one the chosen rule declares."""
    from .robust import METHODS, get_method

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


def _label(machine_id: Any, source: str) -> str:
    """A machine as the server operator finds it: its id and the file it came from."""
    return source if machine_id is None else f"{machine_id} ({source})"


def cmd_aggregate(args: argparse.Namespace) -> int:
    from . import wire
    from .exceptions import RejectedEstimatesWarning
    from .metrics import w1
    from .rejection import Rejected
    from .robust import aggregate

    sources = list(args.estimates)
    truth = _read_truth(args.truth) if args.truth else None
    family, name = _expected_family(args.family)
    try:
        entries = wire.agree_with_majority(
            wire.load_many(sources, family=family, n_components=args.K),
            family_name=name,
            same_order=args.K is None or len(args.K) == 1,
        )
    except ValueError as exc:
        raise ValueError(f"{exc}: choose with --family and -K") from None
    entries = [
        Rejected(e.machine_id, e.reason, e.source or s) if isinstance(e, Rejected) else e
        for e, s in zip(entries, sources)
    ]
    labels = [_label(e.machine_id, s) for e, s in zip(entries, sources)]
    rejected = {i: e for i, e in enumerate(entries) if isinstance(e, Rejected)}
    print(f"read {len(entries)} estimates: {len(entries) - len(rejected)} valid, {len(rejected)} rejected")
    for i, r in rejected.items():
        print(f"  REJECTED [{i}] {labels[i]}: {r.reason}")
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
    left_out = [labels[i] for i in res.excluded if i not in rejected]
    print(
        f"{args.method}: aggregated {res.selected.size} of {len(entries)} machines"
        + (f"; filtered out {len(left_out)}: {', '.join(left_out)}" if left_out else "")
    )
    if res.coat_index is not None:
        rho = "" if res.rho is None else f"; rho = {res.rho:.4g}" + (" (suggested)" if res.rho_suggestion else "")
        print(f"  COAT: {labels[res.coat_index]}, radius {res.coat_radius:.4g}{rho}")
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
    if res.majority_doubtful and not args.allow_no_majority:
        print(
            "mixagg aggregate: the majority the rule needs is doubtful (see the notes above); the result was written "
            "but its guarantee does not hold (--allow-no-majority exits with 0)",
            file=sys.stderr,
        )
        return 3
    return 0


def _expected_family(name: str | None) -> tuple[Any, str | None]:
    """``--family``: a full family, or only a name when its settings (Gaussian's d) come from the estimates."""
    from .families import get_family

    if name is None:
        return None, None
    try:
        return get_family(name), None
    except TypeError:  # settings missing (an unknown name is a ValueError): checked by name, the rest by the majority
        return None, name


def cmd_theory(args: argparse.Namespace) -> int:
    from . import wire
    from .rejection import Rejected
    from .theory import concentration_report

    truth = _read_truth(args.truth)
    entries = wire.load_many(args.estimates, family=truth.family, n_components=truth.n_components)
    valid = [e for e in entries if not isinstance(e, Rejected)]
    for e, s in zip(entries, args.estimates):
        if isinstance(e, Rejected):
            print(f"  REJECTED {_label(e.machine_id, s)}: {e.reason}")
    if len(valid) < 2:
        raise ValueError(f"need at least 2 valid estimates for a concentration report, got {len(valid)}")
    print(f"theory: {len(valid)} estimates against {_summary(truth)}")
    report = concentration_report(valid, truth, args.n, pairwise=args.pairwise, rng=args.seed, progress=_progress(args))
    print(report)
    if args.output:
        print(f"-> {_write_json(args.output, report.to_dict())}")
    if args.plot:
        fig = report.plot(title="distances of the local estimates against their predicted law")
        fig.savefig(args.plot, dpi=110)
        print(f"-> {args.plot}")
    return 0


# ---------------------------------------------------------------------------------------------- parser


def _add_progress(p: argparse.ArgumentParser, *, verbose: bool = False) -> None:
    if verbose:
        p.add_argument("-v", "--verbose", action="store_true", help="always show the progress display")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress display (by default: shown on a terminal only)"
    )


def _add_read_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading the data file (docs/data_files.md)")
    g.add_argument("--columns", type=_column_list, help="the columns to fit, by name or 0-based position: 'a,b,4'")
    g.add_argument("--drop", type=_column_list, help="columns to leave out, by name or 0-based position")
    g.add_argument("--index-col", type=_column, help="the id/row-name column (name or position): not fitted")
    header = g.add_mutually_exclusive_group()
    header.add_argument(
        "--header",
        dest="header",
        action="store_const",
        const=True,
        default="infer",
        help="the first line names the columns (default: detected)",
    )
    header.add_argument("--no-header", dest="header", action="store_const", const=False, help="the first line is data")
    g.add_argument(
        "--na",
        choices=("error", "drop"),
        default="error",
        help="a row with a missing value: stop with an error naming it (default) or drop the row",
    )


def _add_aggregate(sub: Any, *, rules: bool) -> None:
    p = sub.add_parser(
        "aggregate", help="the server's job: robustly aggregate JSON estimates (malformed ones are reported)"
    )
    p.add_argument("estimates", nargs="+", help="JSON estimate files")
    if rules:
        from .robust import METHODS

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
    p.add_argument(
        "-K",
        type=_orders,
        help="expected number of components, or the orders accepted from machines that choose their own: "
        "'5', '3-7' or '4,5,6' (default: the majority's order)",
    )
    p.add_argument("--truth", help="a JSON truth: report W1 of the aggregate to it")
    p.add_argument(
        "--allow-no-majority",
        action="store_true",
        help="exit with 0 even when the majority the rule needs is doubtful (the default exit status is then 3)",
    )
    p.add_argument("-o", "--output", required=True, help="where to write the result (JSON)")
    p.set_defaults(func=cmd_aggregate)


def build_parser(*, rules: bool = True) -> argparse.ArgumentParser:
    """The argument parser (subcommands ``demo``, ``simulate``, ``fit``, ``aggregate``, ``theory``).

    ``rules=False`` leaves the rule options out of ``aggregate`` (they need the rules imported):
    :func:`main` builds them only when the command is ``aggregate``, so that ``mixagg --help``
    and the other commands start fast.
    """
    parser = argparse.ArgumentParser(
        prog="mixagg",
        description="Byzantine-tolerant distributed learning of finite mixtures.",
        epilog="exit status: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()),
    )
    parser.add_argument("--version", action="version", version=f"mixagg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument(
        "--import",
        dest="plugins",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, so the families and rules it registers can be named (repeatable)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="one Byzantine split-and-conquer experiment: every estimator, a table and a figure")
    p.add_argument("--quick", action="store_true", help="CI scale (K = 3, d = 2, m = 20, N = 20,000): about 10 s")
    p.add_argument(
        "--family", type=_demo_family, metavar="FAMILY", help="gaussian (MixSim truth, default), gamma or poisson"
    )
    p.add_argument("--m", type=_positive_int, help="number of machines (default 50; quick 20)")
    p.add_argument("--n", type=_positive_int, help="total number of samples N (default 100,000; quick 20,000)")
    p.add_argument("--alpha", type=_fraction, help="fraction of failed machines (default 0.2)")
    p.add_argument("--seed", type=_integer, help="random seed (default 2026)")
    p.add_argument("-K", type=_positive_int, help="components of the MixSim truth (default 5; quick 3)")
    p.add_argument("-d", type=_positive_int, help="dimension of the MixSim truth (default 10; quick 2)")
    p.add_argument("--max-omega", type=_positive_number, help="MixSim MaxOmega (default 0.3; quick 0.1)")
    p.add_argument("--init", choices=("truth", "kmeans++"), help="EM start (default: the truth, as in the papers)")
    p.add_argument(
        "--workers", type=_positive_int, help="fit the machines in this many processes (default: in-process)"
    )
    p.add_argument("--out", help="output directory for demo.png and demo.json (default ./mixagg-demo)")
    _add_progress(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("simulate", help="a ground truth and data shards (.csv or .npy), one per machine")
    p.add_argument("-o", "--out", required=True, help="output directory (truth.json and shard_000.csv, ...)")
    p.add_argument(
        "--family", type=_demo_family, metavar="FAMILY", default="gaussian", help="gaussian (default), gamma or poisson"
    )
    p.add_argument("--n", type=_positive_int, default=10_000, help="total number of samples (default 10,000)")
    p.add_argument("--m", type=_positive_int, default=1, help="number of shards (default 1)")
    p.add_argument("-K", type=_positive_int, default=5, help="components of the MixSim truth (default 5)")
    p.add_argument("-d", type=_positive_int, default=10, help="dimension of the MixSim truth (default 10)")
    p.add_argument("--max-omega", type=_positive_number, default=0.3, help="MixSim MaxOmega (default 0.3)")
    p.add_argument("--format", choices=("csv", "npy", "txt"), default="csv")
    p.add_argument("--seed", type=_integer, default=2026)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("fit", help="one machine's job: fit a mixture to a data file and write the estimate as JSON")
    p.add_argument(
        "data", help="a .csv, .tsv, .txt, .parquet or .npy file (optionally .gz, ...), one row per observation"
    )
    p.add_argument("-K", type=_positive_int, required=True, help="number of components")
    p.add_argument(
        "--family",
        default="gaussian",
        help="gaussian, gamma, poisson, exponential, bernoulli (0/1 columns), categorical (codes 0..L-1) "
        "or a registered name; or a JSON object with the settings, e.g. "
        '\'{"name": "categorical", "levels": [3, 3, 4]}\' (every machine then codes alike)',
    )
    p.add_argument(
        "--covariance-type",
        help="Gaussian covariance structure: full (default), tied, diag, spherical, tied_diag, tied_spherical, "
        "or an mclust model name (VVV, EEE, VVI, EEI, VII, EII); docs/covariance.md",
    )
    p.add_argument("-o", "--output", required=True, help="where to write the estimate (JSON)")
    p.add_argument("--machine-id", help="id sent with the estimate (default: the data file's name)")
    p.add_argument("--init", default="kmeans++", help="kmeans++ (default), random, or a JSON estimate to start from")
    p.add_argument("--n-init", type=_positive_int, default=3, help="starts for kmeans++/random (default 3)")
    p.add_argument("--max-iter", type=_positive_int, default=1000, help="EM iterations per start (default 1000)")
    p.add_argument(
        "--tol", type=_positive_number, default=1e-6, help="stop when the objective per observation gains less (1e-6)"
    )
    p.add_argument(
        "--penalty", choices=("auto", "none"), default="auto", help="the papers' penalty (auto) or plain MLE"
    )
    p.add_argument("--seed", type=_integer, default=0)
    _add_read_options(p)
    _add_progress(p, verbose=True)
    p.set_defaults(func=cmd_fit)

    _add_aggregate(sub, rules=rules)

    p = sub.add_parser("theory", help="distances of honest estimates to a truth against their predicted law")
    p.add_argument("estimates", nargs="+", help="JSON estimate files (failure-free)")
    p.add_argument("--truth", required=True, help="the JSON truth G*")
    p.add_argument("--n", type=_positive_number, help="local sample size (default: what each estimate reports)")
    p.add_argument("--pairwise", action="store_true", help="all pairwise distances instead of distances to the truth")
    p.add_argument("--seed", type=_integer, default=0, help="seed of the Monte Carlo Fisher information")
    p.add_argument("-o", "--output", help="write the report as JSON")
    p.add_argument("--plot", help="write the cdf/QQ figure (PNG)")
    _add_progress(p)
    p.set_defaults(func=cmd_theory)
    return parser


def _command(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """The subcommand named in ``argv`` and the ``--import`` modules given before it."""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--import", dest="plugins", action="append", default=[])
    command = next((i for i, a in enumerate(argv) if a in COMMANDS), None)
    head = list(argv if command is None else argv[:command])
    known, _ = pre.parse_known_args(head)
    return (None if command is None else argv[command]), known.plugins


def _one_line(command: str | None) -> Callable[..., None]:
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"mixagg {command or ''}: {category.__name__}: {' '.join(str(message).split())}", file=sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mixagg`` console script and ``python -m mixagg``; returns the exit status.

    Plug-in modules named with ``--import`` are imported before the arguments are checked, and the
    installed entry points (``docs/plugins.md``) are loaded before a command runs.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command, plugins = _command(argv)
    debug = "--debug" in argv[: argv.index(command) if command else len(argv)]
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _one_line(command)
        from .plugins import import_plugin, load_entry_points

        for module in plugins:
            try:
                import_plugin(module)
            except ValueError as exc:
                print(f"mixagg: error: --import: {exc}", file=sys.stderr)
                return 2
        if command == "aggregate":
            load_entry_points("mixagg.rules")
        args = build_parser(rules=command == "aggregate").parse_args(argv)
        try:
            load_entry_points()
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

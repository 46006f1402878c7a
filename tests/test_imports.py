"""``import mixagg`` stays lean: no plotting, progress-bar or statistics-plotting library until a feature needs it.

``import mixagg`` itself loads its submodules on first use (``benchmarks/bench_cli.py`` measures the start-up), and
the ``mixagg`` command imports numerical libraries only in the command that runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("matplotlib", "tqdm", "statsmodels", "dask", "rpy2")
#: What a command-line start with only argument parsing to do must not pay for.
NUMERICAL = ("numpy", "scipy", "sklearn", "pandas", "ot", "numba", *HEAVY)


def loaded_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_mixagg_loads_no_heavy_optional_library():
    assert loaded_after("import mixagg").isdisjoint(HEAVY)


def test_import_mixagg_loads_no_submodule_and_no_numerical_library():
    code = (
        "import sys, json, mixagg; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('mixagg.') or m.split('.')[0] in %r)))"
        % (NUMERICAL,)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_names_of_the_package_load_on_first_use():
    used = loaded_after("import mixagg as ma; ma.MixingDistribution; ma.aggregate")
    assert {"numpy", "scipy"} <= used and used.isdisjoint(("sklearn", "ot", "pandas", *HEAVY))


def test_help_and_argument_errors_of_the_command_load_no_numerical_library():
    for argv in (["--help"], ["fit", "data.csv", "-K", "2.5", "-o", "e.json"], ["demo", "--help"]):
        used = loaded_after(f"from mixagg.cli import main\ntry: main({argv!r})\nexcept SystemExit: pass")
        assert used.isdisjoint(NUMERICAL), (argv, used & set(NUMERICAL))


def test_the_lazy_imports_still_happen_on_use():
    used = loaded_after(
        "import mixagg as ma; t = ma.MixingDistribution('poisson', [0.5, 0.5], {'rate': [1.0, 9.0]}); "
        "fits = [ma.fit_mixture(t.sample(400, rng=i), 'poisson', 2, init=t) for i in range(6)]; "
        "ma.theory.concentration_report(fits, t)"
    )
    assert "statsmodels" in used

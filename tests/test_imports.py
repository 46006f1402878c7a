"""``import mixagg`` stays lean: no plotting, progress-bar or statistics-plotting library until a feature needs it."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("matplotlib", "tqdm", "statsmodels", "dask", "rpy2")


def loaded_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_mixagg_loads_no_heavy_optional_library():
    assert loaded_after("import mixagg").isdisjoint(HEAVY)


def test_the_lazy_imports_still_happen_on_use():
    used = loaded_after(
        "import mixagg as ma; t = ma.MixingDistribution('poisson', [0.5, 0.5], {'rate': [1.0, 9.0]}); "
        "fits = [ma.fit_mixture(t.sample(400, rng=i), 'poisson', 2, init=t) for i in range(6)]; "
        "ma.theory.concentration_report(fits, t)"
    )
    assert "statsmodels" in used

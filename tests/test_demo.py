"""The demo's table: its legend and the note when a rule comes out closer to the truth than the oracle."""

from __future__ import annotations

from pathlib import Path

import mixagg as ma
from mixagg.demo import BEATS_ORACLE, LEGEND, DemoResult, DemoSettings, Row


def _result(rows: list[Row]) -> DemoResult:
    settings = DemoSettings(m=10)
    truth = ma.MixingDistribution("poisson", [0.5, 0.5], {"rate": [1.0, 5.0]})
    return DemoResult(settings, truth, rows, None, Path("demo.json"), 0.0)


def test_the_table_explains_every_column():
    text = _result([Row("mean", "oracle", 0.01, 0.99, 8, 0, 0.1)]).table()
    for key, meaning in LEGEND.items():
        assert f"{key}: {meaning}" in text


def test_a_rule_below_the_oracle_gets_the_explanation_and_only_then():
    rows = [
        Row("mean", "DFMR(1.3)", 0.009, 0.99, 8, 0, 0.1),
        Row("mean", "vanilla", 0.5, 0.5, 10, 2, 0.1),
        Row("mean", "oracle", 0.010, 0.99, 8, 0, 0.1),
        Row("weight", "DFMR(1.3)", 0.02, 0.99, 8, 0, 0.1),
        Row("weight", "oracle", 0.01, 0.99, 8, 0, 0.1),
    ]
    text = _result(rows).table()
    notes = [line for line in text.splitlines() if BEATS_ORACLE in line]
    assert notes == [f"  DFMR(1.3) below the oracle's W1: {BEATS_ORACLE}"]
    assert text.index(notes[0]) < text.index("weight failure")  # under its own failure's table

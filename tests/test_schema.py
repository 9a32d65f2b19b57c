"""The result files' schema: what the store writes is what benchy/results/schema.py says, and
the README documents exactly that."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchy.results.schema import COLUMNS, IDENTITY, CellKey, columns_markdown
from benchy.results.store import cells_frame

ROOT = Path(__file__).resolve().parent.parent
PANDAS_KIND = {"str": "str", "int": "Int64", "float": "float64", "bool": "boolean"}


def test_the_readme_lists_every_column_of_the_schema() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- columns: generated from benchy/results/schema.py -->")
    end = readme.index("<!-- /columns -->")
    assert readme[start:end].split("\n", 1)[1].strip() == columns_markdown()


def test_cells_have_every_documented_column_in_its_type(tmp_path: Path) -> None:
    """Even a run whose only cell could not apply writes every column, typed."""
    row = {"target": "t", "model": "m", "variant": "v", "runtime": "r", "delegate": "-",
           "threads": 0, "status": "n/a", "error": "r does not run .x files"}  # fmt: skip
    frame = cells_frame([row])
    assert [c.name for c in COLUMNS] == list(frame.columns)
    frame.to_parquet(tmp_path / "c.parquet")
    back = pd.read_parquet(tmp_path / "c.parquet")
    for column in COLUMNS:
        assert str(back[column.name].dtype) == PANDAS_KIND[column.dtype], column.name


def test_a_cell_key_is_one_type_whatever_it_is_read_from() -> None:
    row = {"target": "t", "model": "m", "variant": "v", "runtime": "tflite", "delegate": "none",
           "threads": "2"}  # fmt: skip
    key = CellKey.of(row)
    assert key == CellKey.from_values(("t", "m", "v", "tflite", "none", 2))
    assert key.threads == 2
    assert key.title() == "t/m/v tflite/none ×2"
    assert key.title(target=False) == "m/v tflite/none ×2"
    assert tuple(key.columns()) == IDENTITY


def test_long_tables_keep_identity_categorical_and_counts_integer(tmp_path: Path) -> None:
    from benchy.results.store import RunStore

    store = RunStore(tmp_path / "run", {})
    row = {"target": "t", "model": "m", "variant": "v", "runtime": "tflite", "delegate": "none",
           "threads": 1, "status": "ok"}  # fmt: skip
    ns = [10, 11, 12]
    samples = pd.DataFrame({"repetition": [0, 0, 1], "index": [0, 1, 2], "latency_ns": ns,
                            "latency_ms": [n / 1e6 for n in ns]})  # fmt: skip
    store.add(row, {"samples": samples})
    store.finish(status="finished")
    back = pd.read_parquet(tmp_path / "run" / "samples.parquet")
    for column in IDENTITY:
        expected = "int64" if column == "threads" else "category"
        assert str(back[column].dtype) == expected, column
    assert str(back["latency_ns"].dtype) == "int64"
    power = pd.read_parquet(tmp_path / "run" / "power.parquet")
    assert list(power.columns) == [*IDENTITY, "repetition", "t_s", "watts", "phase", "interval_s"]

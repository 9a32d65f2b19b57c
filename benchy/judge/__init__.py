"""Judging: budgets on one run, and a run against a baseline.

budgets.py      a cell's figures against its budgets (latency on CIs) → pass/fail/inconclusive
outcome.py      the run's exit code and one-line verdict
compare.py      baseline vs new run: cells matched by CellKey, one Result per cell × metric
latency.py      per-repetition percentile shifts: Hodges–Lehmann, Mann–Whitney CI, Holm
drift.py        run-wide drift, estimated from unchanged cells and taken out
memory.py       peak/model memory as point values against δ
accuracy.py     accuracy/MAE/RMSE, exact within a tolerance
energy.py       energy per inference (shown, not gated)
differences.py  what differs between two runs, each with a kind
result.py       one comparison Result and how it reads
"""

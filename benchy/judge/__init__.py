"""Judging: budgets on one run, and a run against a baseline.

budgets.py      a cell's figures against its budgets (latency on CIs) → pass/fail/inconclusive
outcome.py      the run's exit code and one-line verdict
compare.py      baseline vs new run: cells matched by CellKey, one Result per cell × metric
shift.py        the per-repetition shift test: slowed repetitions set aside, Hodges–Lehmann with
                its Mann–Whitney CI, robust scatter, between-run margin, Holm, MDE
sequential.py   looks: when a cell is judged again, and the share of α each look spends
latency.py      per-repetition percentiles → shift tests; run-wide drift results
drift.py        run-wide drift (between runs, and round by round within one)
memory.py       peak/model memory per repetition (point values for older runs)
accuracy.py     accuracy/MAE/RMSE, exact within a tolerance
energy.py       energy per inference per repetition (shown, not gated, for older runs)
differences.py  what differs between two runs, each with a kind
result.py       one comparison Result and how it reads
"""

"""Results: what a run leaves on disk, and reading it back.

schema.py    a cell's identity (CellKey) and every column with its type and meaning
manifest.py  run.json: written at the start, completed at the end, checked before reading
store.py     the run directory, written as cells finish (never loses a finished cell)
read.py      stored runs read back: cells, per-repetition percentiles, samples
find.py      a suite's runs, newest first; `--baseline PATH|latest`
"""

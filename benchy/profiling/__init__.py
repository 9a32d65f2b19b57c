"""Where the time goes (issue 15): per-op profiles and instruction counting, host side.

    valgrind.py         finding Valgrind, the callgrind command line, the config error
    benchmark_tool.py   LiteRT's native benchmark binary: command line, op-profile parser
    rows.py             worker results → instruction columns and the `ops` long table
    summary.py          the terminal's top ops per cell

The device side is in benchy/worker/ (profiling.py, callgrind.py, opmap.py, valgrind.py); the
judging of instructions per inference in benchy/judge/instructions.py; the callgrind worker of
a target in benchy/targets/callgrind.py.
"""

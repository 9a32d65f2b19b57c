"""A model's inputs, host side: what the suite says about them and what they resolve to for one
model file.

config.py   the suite's keys: [models.X.inputs.NAME], dims, output, [models.X.feedback],
            signature, and the single-input [models.X.input] of earlier suites (parsing only)
plan.py     those keys against a model file (benchy/modelinfo) and its dataset: every input's
            source and concrete shape, checked before anything runs; the worker's InputsSpec
values.py   whether a constant fits an input's element type
"""

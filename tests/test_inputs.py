"""Inputs by name on the host: what each input of a model file resolves to (source, concrete
shape, dataset array), the request the worker gets, `benchy init`, and where target names are
looked up. (The errors are in tests/config_corpus; real runs in test_inputs_run.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from benchy.cellrequest import cell_request
from benchy.cli import main
from benchy.config import load_suite, load_target
from benchy.errors import ConfigError
from benchy.inputs.plan import plan_inputs
from benchy.inputs.values import fit_problem
from benchy.matrix import expand
from benchy.modelinfo import TensorInfo
from benchy.worker.protocol import request_problem

from .conftest import MODELS, ROOT


def suite(tmp_path: Path, body: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_every_input_resolves_to_a_source_and_a_concrete_shape(
    tmp_path: Path, tiny: dict[str, Path]
) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, input=np.zeros((5, 1, 16), np.float32), y=np.zeros(5))
    path = suite(
        tmp_path,
        f"""
        [models.vad]
        dataset = "{data}"
        dims = {{ batch = 1, sequence = 16 }}
        [models.vad.variants]
        fp32 = "{tiny["vad"]}"
        half = "{tiny["vad_half"]}"
        [models.vad.inputs.sr]
        value = 16000
        [models.vad.feedback]
        stateN = "state"
        """,
    )
    model = load_suite(path).models["vad"]
    for file in (tiny["vad"], tiny["vad_half"]):
        plan = plan_inputs(model, file)
        feeds = {f.name: f for f in plan.feeds}
        assert feeds["input"].source == "dataset" and feeds["input"].key == "input"
        assert feeds["input"].shape == (1, 16)
        assert feeds["state"].source == "random" and feeds["state"].shape == (2, 1, 8)
        assert feeds["sr"].source == "value" and feeds["sr"].shape == ()
        assert plan.feedback == {"stateN": "state"}
    spec = plan_inputs(model, tiny["vad"]).spec("/board/d.npz", None)
    assert spec["path"] == "/board/d.npz"
    assert spec["feeds"][2] == {"source": "value", "name": "sr", "shape": [], "value": 16000}


def test_an_inputs_shape_sets_dynamic_dimensions_and_x_feeds_the_first_input(
    tmp_path: Path, tiny: dict[str, Path]
) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((3, 2, 16), np.float32), y=np.zeros(3))
    path = suite(
        tmp_path,
        f"""
        [models.vad]
        dataset = "{data}"
        [models.vad.variants]
        fp32 = "{tiny["vad"]}"
        [models.vad.inputs.input]
        shape = [2, 16]
        [models.vad.inputs.state]
        source = "ones"
        shape = [2, 2, 8]
        """,
    )
    plan = plan_inputs(load_suite(path).models["vad"], tiny["vad"])
    feeds = {f.name: f for f in plan.feeds}
    assert (feeds["input"].source, feeds["input"].key) == ("dataset", "x")
    assert feeds["input"].shape == (2, 16) and feeds["state"].shape == (2, 2, 8)
    assert feeds["sr"].source == "random"  # not in the dataset: random, as [models.X.input]


def test_earlier_suites_single_input_keys_keep_their_meaning(tmp_path: Path) -> None:
    """`dataset` with x and [models.X.input] (source, range, a shape of another rank)."""
    path = suite(
        tmp_path,
        f"""
        [models.cnn]
        [models.cnn.variants]
        fp32 = "{MODELS / "cnn_fp32.tflite"}"
        [models.cnn.input]
        low = -1.0
        high = 1.0
        shape = [600]
        """,
    )
    (feed,) = plan_inputs(load_suite(path).models["cnn"], MODELS / "cnn_fp32.tflite").feeds
    assert (feed.name, feed.source) == ("serving_default_input:0", "random")
    assert feed.shape == (1, 100, 6)
    assert (feed.low, feed.high) == (-1.0, 1.0)


def test_a_file_the_host_cannot_read_is_left_to_the_worker(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"TFL3" + bytes(100))
    path = suite(tmp_path, f'[models.m.variants]\nv = "{broken}"\n')
    plan = plan_inputs(load_suite(path).models["m"], broken)
    assert plan.feeds == () and plan.default is not None and plan.default.source == "random"


def test_requests_carry_the_plan_and_pass_the_workers_check(
    tmp_path: Path, tiny: dict[str, Path]
) -> None:
    path = suite(
        tmp_path,
        f"""
        [models.s]
        signature = "mul"
        output = "out"
        [models.s.variants]
        fp32 = "{tiny["signatures"]}"
        [models.s.inputs.b]
        source = "ones"
        """,
    )
    s = load_suite(path)
    cell = next(c for c in expand(s, ["local"]) if c.applicable)
    request = cell_request(cell, s.models["s"], s.measure, {cell.model_file: "/m"}, 0, None)
    assert request["inputs"]["signature"] == "mul"
    assert request["inputs"]["output"] == "out"
    assert [f["name"] for f in request["inputs"]["feeds"]] == ["a", "b"]
    assert request["collect_outputs"] is False  # no dataset with labels: nothing to score
    assert request_problem({"op": "cell", "cell": dict(request)}) is None
    bad = {**request, "inputs": {**request["inputs"], "colour": "red"}}
    assert "unknown key(s) in the cell's inputs: colour" in str(
        request_problem({"op": "cell", "cell": bad})
    )


def tensor(dtype: str, scale: float = 0.0, zero: int = 0) -> TensorInfo:
    return TensorInfo("t", dtype, (1,), scale, zero)


@pytest.mark.parametrize(
    ("value", "dtype", "quant", "fits"),
    [
        (127, "int8", None, True),
        (128, "int8", None, False),
        (2**63 - 1, "int64", None, True),
        (2**64 - 1, "uint64", None, True),
        (-1, "uint64", None, False),
        (3.0, "int32", None, True),
        (True, "bool", None, True),
        (1, "bool", None, True),
        (0.5, "bool", None, False),
        (65504.0, "float16", None, True),
        (1e39, "float32", None, False),
        (float("nan"), "float32", None, True),
        (6.35, "int8", (0.05, 0), True),
        (6.5, "int8", (0.05, 0), False),
        ([[1, 2], [300, 4]], "int16", None, True),
    ],
)
def test_values_fit_the_element_type(
    value: object, dtype: str, quant: tuple[float, int] | None, fits: bool
) -> None:
    t = tensor(dtype, *(quant or (0.0, 0)))
    assert (fit_problem(value, t) is None) is fits


# ---------------------------------------------------------------- benchy init


def test_init_leaves_dynamic_dimensions_to_choose_and_then_validates(
    tmp_path: Path, tiny: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "frames.npz"
    np.savez(data, input=np.zeros((4, 1, 16), np.float32), y=np.zeros(4))
    out = tmp_path / "vad.toml"
    argv = ["init", str(tiny["vad"]), str(tiny["vad_half"]), "--dataset", str(data)]
    assert main([*argv, "-o", str(out)]) == 0
    text = out.read_text()
    assert 'batch = "CHOOSE"' in text and 'sequence = "CHOOSE"' in text
    assert "[models.vad.variants]\nvad = " in text and "vad_half = " in text
    assert '[models.vad.inputs.input]  # float32 [batch, sequence]\nsource = "dataset"' in text
    assert '# stateN = "state"' in text  # the state output, offered as feedback
    with pytest.raises(ConfigError, match=r"\[models.vad.dims\].batch: choose a value"):
        load_suite(out)
    out.write_text(text.replace('batch = "CHOOSE"', "batch = 1").replace('= "CHOOSE"', "= 16"))
    model = load_suite(out).models["vad"]
    assert {f.name: f.shape for f in plan_inputs(model, tiny["vad"]).feeds}["state"] == (2, 1, 8)
    # It never overwrites a file.
    assert main([*argv, "-o", str(out)]) == 2
    assert "exists; benchy init does not overwrite files" in capsys.readouterr().err


def test_init_to_stdout_names_tflite_inputs_by_their_signature(
    tiny: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(MODELS / "cnn_fp32.tflite"), str(MODELS / "cnn_full_int8.tflite")]
    assert main(["init", *files]) == 0
    text = capsys.readouterr().out
    assert '[suite]\nname = "cnn"' in text
    assert 'signature = "serving_default"' in text
    assert "[models.cnn.inputs.input]  # float32 [1, 100, 6]" in text
    assert "CHOOSE" not in text
    assert main(["init", str(tiny["vad"]), str(tiny["types"])]) == 2
    assert "have different inputs" in capsys.readouterr().err


# ---------------------------------------------------------------- target lookup


def test_local_is_built_in_and_a_file_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    built_in = load_target("local")
    assert built_in.kind == "local" and built_in.path is None
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "local.toml").write_text('kind = "local"\ndescription = "mine"\n')
    assert load_target("local").description == "mine"


def test_target_names_are_looked_up_beside_the_suite_then_in_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    project = tmp_path / "project"
    (project / "targets").mkdir(parents=True)
    (project / "targets" / "pi.toml").write_text('kind = "local"\ndescription = "beside"\n')
    (config / "benchy" / "targets").mkdir(parents=True)
    (config / "benchy" / "targets" / "pi.toml").write_text('kind = "local"\ndescription = "cfg"\n')
    (config / "benchy" / "targets" / "rpi5.toml").write_text('kind = "local"\n')
    suite_file = project / "s.toml"
    assert load_target("pi", suite_file).description == "beside"
    assert load_target("pi").description == "cfg"
    assert load_target("rpi5", suite_file).path == config / "benchy" / "targets" / "rpi5.toml"
    with pytest.raises(ConfigError) as err:
        load_target("nano", suite_file, (str(suite_file), "[suite].targets"))
    assert str(err.value) == (  # project/../targets is ./targets: looked in once
        f'{suite_file}: [suite].targets: target "nano" not found: no nano.toml in ./targets, '
        "./project/targets, ./config/benchy/targets; valid choices: local, pi, rpi5 (or a path "
        "to a .toml file)"
    )


def test_run_works_from_any_folder(tmp_path: Path, tiny: dict[str, Path]) -> None:
    """Outside benchy's repository (no ./targets): a suite beside its model, the built-in local."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "s.toml").write_text(
        f'[models.t]\n[models.t.variants]\nq = "{tiny["int8_add"]}"\n'
        "[measure]\nrepetitions = 1\nmin_runs = 20\nwarmup_runs = 1\nwarmup_seconds = 0\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.run(
        [sys.executable, "-m", "benchy", "run", "s.toml", "--quick"],
        cwd=folder, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run,) = (folder / "results" / "s").iterdir()
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["verdict"] == "pass" and list(manifest["targets"]) == ["local"]


def test_boards_get_external_data_only_from_the_models_own_folder(tmp_path: Path) -> None:
    from benchy.errors import TargetError
    from benchy.targets.ssh import bundle_digest

    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.data").write_bytes(b"weights")
    (tmp_path / "w.data").write_bytes(b"weights")
    first = bundle_digest(model, [tmp_path / "w.data"])
    (tmp_path / "w.data").write_bytes(b"weights2")
    assert bundle_digest(model, [tmp_path / "w.data"]) != first  # the data is in the name
    with pytest.raises(TargetError, match=r"external data sub/w\.data is not beside the model"):
        bundle_digest(model, [tmp_path / "sub" / "w.data"])
    with pytest.raises(TargetError, match=r"external data file gone\.data is missing"):
        bundle_digest(model, [tmp_path / "gone.data"])

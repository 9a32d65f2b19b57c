"""The host–worker contract: one bundled file by content hash, the version checked on connect,
requests the worker does not know refused rather than ignored."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchy.errors import TargetError
from benchy.targets.local import LocalOptions, LocalTarget
from benchy.worker import bundle
from benchy.worker.protocol import CELL_KEYS, PROTOCOL_VERSION, request_problem


def ask(*requests: dict[str, object]) -> list[dict[str, object]]:
    """Send requests to the real bundled worker, from a folder where benchy is not importable."""
    lines = "".join(json.dumps(r) + "\n" for r in requests)
    proc = subprocess.run(
        [sys.executable, "-I", str(bundle.worker_file()), "serve"],
        input=lines, capture_output=True, text=True, timeout=120, cwd="/",
    )  # fmt: skip
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_the_bundle_is_the_same_bytes_from_the_same_sources() -> None:
    first, second = bundle.build(), bundle.build()
    assert first == second
    path = bundle.worker_file()
    assert path.name == f"worker-{hashlib.sha256(first).hexdigest()}.pyz"
    names = [name for name, _ in bundle.sources()]
    assert "benchy/worker/bundle.py" not in names  # host side only
    assert "benchy/worker/protocol.py" in names


def test_the_bundled_worker_answers_with_its_protocol_version() -> None:
    (ping,) = ask({"op": "ping"})
    assert ping["ok"] is True
    assert ping["protocol"] == PROTOCOL_VERSION


def test_unknown_ops_and_keys_are_refused_by_name() -> None:
    replies = ask(
        {"op": "launch"},
        {"op": "facts", "verbose": True},
        {"op": "cell", "cell": {"runtime": "tflite", "colour": "red"}},
        {"op": "cell", "cell": {"runtime": "tflite"}},
    )
    assert [r["ok"] for r in replies] == [False] * 4
    assert "unknown op 'launch'" in str(replies[0]["error"])
    assert "unknown key(s) in the facts request: verbose" in str(replies[1]["error"])
    assert "unknown key(s) in the cell request: colour" in str(replies[2]["error"])
    assert str(replies[3]["error"]).startswith("the cell request lacks: collect_outputs")


def test_every_key_the_host_sends_is_in_the_contract(tmp_path: Path) -> None:
    """The requests benchy builds (with a target's own settings) pass the worker's check."""
    from benchy.cellrequest import cell_request
    from benchy.config import load_suite
    from benchy.matrix import expand

    suite_file = tmp_path / "s.toml"
    models = Path(__file__).resolve().parent.parent / "suites" / "models"
    suite_file.write_text(f'[models.m.variants]\nfp32 = "{models / "cnn_fp32.tflite"}"\n')
    suite = load_suite(suite_file)
    cell = next(c for c in expand(suite, ["local"]) if c.applicable)
    request = cell_request(cell, suite.models["m"], suite.measure, {cell.model_file: "m"}, 0, None)
    target = LocalTarget("local", LocalOptions(sys.executable, (0,)))
    adapted = target.adapt(request)
    assert set(adapted) <= CELL_KEYS
    assert request_problem({"op": "cell", "cell": dict(adapted)}) is None


@pytest.mark.parametrize(("version", "side"), [(PROTOCOL_VERSION - 1, "an older"),
                                                (PROTOCOL_VERSION + 1, "a newer")])  # fmt: skip
def test_a_worker_of_another_protocol_is_named_on_connect(
    tmp_path: Path, version: int, side: str
) -> None:
    """A board whose worker speaks another protocol: benchy says so instead of misreading it."""
    fake = tmp_path / "python"
    fake.write_text(
        textwrap.dedent(f"""\
            #!{sys.executable}
            import json, sys
            for line in sys.stdin:
                if json.loads(line)["op"] == "ping":
                    print(json.dumps({{"ok": True, "protocol": {version}, "runtimes": {{}}}}))
                    sys.stdout.flush()
            """)
    )
    fake.chmod(0o755)
    target = LocalTarget("board", LocalOptions(str(fake), ()))
    with pytest.raises(TargetError) as err:
        target.open()
    target.close()
    assert f"board runs {side} benchy worker (protocol {version}; " in str(err.value)
    assert f"this benchy speaks {PROTOCOL_VERSION})" in str(err.value)

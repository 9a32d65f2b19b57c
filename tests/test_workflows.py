"""The GitHub workflows: they parse, their shell steps parse, and they run what they claim —
CI runs .ci/run on every push and pull request (Python 3.11, Ubuntu); the nightly benchmark runs
the example suite. GitHub itself cannot run here; these catch the edits that would break it."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from .conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", ["ci.yml", "nightly.yml"])
def test_every_shell_step_parses(name: str) -> None:
    for step in steps(load(name)):
        if "run" in step:
            script = EXPRESSION.sub("x", step["run"])  # ${{ ... }} is filled in by GitHub
            proc = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
            assert proc.returncode == 0, f"{name}: {step.get('name')}: {proc.stderr}"


def test_ci_runs_dot_ci_run_on_every_push_and_pull_request() -> None:
    ci = load("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    assert not any(ci["on"].values())  # no branch or path filters: every push, every PR
    [job] = ci["jobs"].values()
    assert str(job["runs-on"]).startswith("ubuntu-")
    found = steps(ci)
    python = [s for s in found if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert [s["with"]["python-version"] for s in python] == ["3.11"]
    runs = [s.get("run", "").strip() for s in found]
    assert runs[-1] == "bash .ci/run"
    assert (ROOT / ".ci" / "run").is_file()
    # tests/sshd.py installs openssh-server only as root; the hosted runner needs sudo for it.
    ssh = next(i for i, run in enumerate(runs) if "apt-get install" in run)
    assert "openssh-server" in runs[ssh] and "sudo" in runs[ssh]
    assert ssh < len(runs) - 1
    assert found.index(python[0]) < len(runs) - 1


def test_nightly_runs_the_example_suite() -> None:
    nightly = load("nightly.yml")
    assert nightly["on"]["schedule"] and "workflow_dispatch" in nightly["on"]
    [job] = nightly["jobs"].values()
    suite = job["env"]["SUITE"]
    assert (ROOT / suite).is_file()
    assert any('benchy run "$SUITE"' in s.get("run", "") for s in steps(nightly))

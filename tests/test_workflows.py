"""The GitHub workflows: they parse, their shell steps parse, and they run what they claim —
CI runs .ci/run on every push and pull request (Python 3.11, Ubuntu); the nightly benchmark runs
the example suite. GitHub itself cannot run here; these catch the edits that would break it."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
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


def _step(workflow: dict[str, Any], step_id: str) -> str:
    return str(next(s for s in steps(workflow) if s.get("id") == step_id)["run"])


def _script(text: str, **outputs: str) -> str:
    """A step's shell with GitHub's ${{ ... }} filled in: steps.X.outputs.Y from `outputs`
    (as X_Y), the matrix name as `hosted`."""

    def fill(m: re.Match[str]) -> str:
        expr = m.group(0)[3:-2].strip()
        if expr == "matrix.name":
            return "hosted"
        step, _, name = expr.removeprefix("steps.").partition(".outputs.")
        return outputs[f"{step}_{name}"]

    return EXPRESSION.sub(fill, text)


def _git(repo: Path, *args: str) -> str:
    who = ["-c", "user.name=t", "-c", "user.email=t@t"]
    out = subprocess.run(["git", "-C", str(repo), *who, *args], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return out.stdout.strip()


@pytest.mark.parametrize("suite_changed", [True, False])
def test_the_nightly_runs_benchy_ab_against_the_accepted_commit_when_the_suite_changed(
    tmp_path: Path, suite_changed: bool
) -> None:
    """The ab step's own shell, run in a real git repository: it finds the commit of the run
    the nightly was just compared with, checks it out in the runner's temp folder and hands both
    suite files to `benchy ab` — only when the suite's folder differs. `benchy` here is a stand-in
    that records its arguments: the step's shell is what is under test (GitHub cannot run here;
    `benchy ab` itself is tested in test_ab.py)."""
    repo = tmp_path / "repo"
    (repo / "suites").mkdir(parents=True)
    (repo / "suites" / "wearable.toml").write_text("# accepted\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "accepted")
    accepted = _git(repo, "rev-parse", "HEAD")
    (repo / "README").write_text("not the suite\n")
    if suite_changed:
        (repo / "suites" / "wearable.toml").write_text("# tonight\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "tonight")
    base = repo / "baseline" / "wearable" / "20261129T021700Z-gh1"
    base.mkdir(parents=True)
    (base / "run.json").write_text(json.dumps({"git_commit": accepted}))
    run = repo / "results" / "wearable" / "20261130T021700Z-gh2"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"comparison": {"baseline": str(base)}}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "benchy").write_text('#!/bin/sh\necho "$@" > "$CALLED"\nexit 1\n')
    (bin_dir / "benchy").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SUITE": "suites/wearable.toml",
           "REPORTS": "reports", "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_RUN_ID": "2",
           "CALLED": str(tmp_path / "called"), "RUNNER_TEMP": str(tmp_path / "temp")}  # fmt: skip
    script = _script(_step(load("nightly.yml"), "ab"), bench_run=str(run))
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    output = (tmp_path / "out").read_text()
    if not suite_changed:
        assert output == "code=0\n" and not (tmp_path / "called").exists()
        assert f"the suite's files are those of {accepted}" in proc.stdout
        return
    assert output == "code=1\n"  # benchy ab's exit code, for the verdict step
    args = (tmp_path / "called").read_text().split()
    tree = tmp_path / "temp" / "accepted-2"
    assert args[:3] == ["ab", f"{tree}/suites/wearable.toml", "suites/wearable.toml"]
    assert (tree / "suites" / "wearable.toml").read_text() == "# accepted\n"


@pytest.mark.parametrize(
    ("bench", "ab", "code", "says"),
    [("0", "0", 0, "pass"), ("0", "4", 0, "::warning"), ("4", "0", 0, "::warning"),
     ("0", "1", 1, "exited 1"), ("3", "0", 3, "exited 3"), ("2", "", 2, "exited 2")],
)  # fmt: skip
def test_the_nightly_verdict_is_the_worse_of_run_and_ab(
    bench: str, ab: str, code: int, says: str
) -> None:
    script = _script(_step(load("nightly.yml"), "verdict"), bench_code=bench, ab_code=ab)
    proc = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True)
    assert (proc.returncode, says in proc.stdout) == (code, True), proc.stdout

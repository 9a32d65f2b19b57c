"""benchy in pytest, for teams that gate in their test suite (entry point `pytest11`, loaded
wherever benchy is installed).

    @pytest.mark.benchy(suite="suites/wearable.toml", quick=True)
    def test_wearable_budgets(benchy_run):
        assert benchy_run.best("local") is not None     # more checks, if wanted

A test marked `benchy` runs the suite (the marker's keywords are `benchy.run`'s) and fails
with the failed budgets, regressions and errors as its message when the run would not exit 0
(`inconclusive = "pass"` in the marker's `inconclusive` keyword makes inconclusive pass). The
`benchy_run` fixture is that run; a test without the marker gets a function that runs one.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

MARKER = "benchy"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(suite, **options): run a benchy suite; the test fails when a budget fails, "
        "a cell regresses or errors (options: those of benchy.run)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marked = item.get_closest_marker(MARKER) is not None
        if marked and isinstance(item, pytest.Function) and "benchy_run" not in item.fixturenames:
            item.fixturenames.append("benchy_run")


@pytest.fixture
def benchy_run(request: pytest.FixtureRequest) -> Any:
    """The marked test's run; unmarked, a function `benchy_run(suite, **options)`."""
    import benchy

    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        runner: Callable[..., benchy.Run] = benchy.run
        return runner
    kwargs = dict(marker.kwargs)
    suite = marker.args[0] if marker.args else kwargs.pop("suite")
    return benchy.run(suite, **kwargs)


def failure_message(run: Any) -> str | None:
    """What failed in a run, or None when it would exit 0."""
    if run.exit_code == 0:
        return None
    lines = [f"benchy: {run.verdict} (exit {run.exit_code}) — {run.dir}"]
    lines += [f"  budget  {line}" for line in run.failed_budgets()]
    lines += [f"  error   {line}" for line in run.errors()]
    if run.comparison is not None:
        lines += [f"  vs baseline  {line}" for line in run.comparison.regressions()]
    return "\n".join(lines)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    result = yield
    if item.get_closest_marker(MARKER) is None or result.excinfo is not None:
        return
    run = getattr(item, "funcargs", {}).get("benchy_run")
    message = None if run is None else failure_message(run)
    if message is not None:
        pytest.fail(message, pytrace=False)

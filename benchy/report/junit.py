"""JUnit XML as CI systems read it (Jenkins, GitLab, GitHub test reporters): one `<testsuite>`
per target with the environment as `<properties>`, one `<testcase>` per cell × budget and per
cell × compared metric; `<failure>` for a failed budget or a regression (with the shift and its
CI), `<skipped>` for inconclusive and unjudged ones, `<error>` for crashes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from benchy.report.cases import Case
from benchy.results.manifest import flatten

OUTCOME_TAG = {"failure": "failure", "error": "error", "skipped": "skipped"}


def _properties(data: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    out = []
    for name, value in flatten(data, prefix).items():
        if isinstance(value, list):
            out.append((name, ", ".join(str(v) for v in value)))
        elif value is not None:
            out.append((name, str(value)))
    return out


def _classname(suite: str, case: Case) -> str:
    c = case.cell
    parts = [suite, c.target, c.model, c.variant, c.runtime, c.delegate, f"t{c.threads}"]
    return ".".join(p.replace(".", "_") for p in parts)


def properties(
    manifest: dict[str, Any], target: str, baseline: str | None, differs: list[str]
) -> list[tuple[str, str]]:
    measure = manifest.get("measure") or {}
    props = [
        ("benchy_version", str(manifest.get("benchy_version"))),
        ("git_commit", str(manifest.get("git_commit"))),
        ("suite_file", str(manifest.get("suite_file"))),
        ("quick", str(manifest.get("quick"))),
        *_properties(measure, "measure."),
        *_properties((manifest.get("gate") or {}), "gate."),
        *_properties((manifest.get("targets") or {}).get(target, {}), "target."),
    ]
    if baseline is not None:
        props.append(("baseline", baseline))
    props += [(f"differs.{i + 1}", text) for i, text in enumerate(differs)]
    return props


def write_junit(
    path: Path,
    suite: str,
    manifest: dict[str, Any],
    cases: list[Case],
    baseline: str | None = None,
    differs: list[str] | None = None,
) -> None:
    root = ET.Element("testsuites", name=f"benchy {suite}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    targets = list(dict.fromkeys(c.target for c in cases)) or list(manifest.get("targets") or {})
    for target in targets:
        own = [c for c in cases if c.target == target]
        counts = {
            "tests": len(own),
            "failures": sum(c.outcome == "failure" for c in own),
            "errors": sum(c.outcome == "error" for c in own),
            "skipped": sum(c.outcome == "skipped" for c in own),
        }
        seconds = sum(c.seconds for c in own)
        facts = (manifest.get("targets") or {}).get(target) or {}
        attrib = {
            "name": f"benchy.{suite}.{target}",
            **{k: str(v) for k, v in counts.items()},
            "time": f"{seconds:.3f}",
            "timestamp": str(manifest.get("started", "")).removesuffix("Z"),
            "hostname": str(facts.get("hostname") or ""),
        }
        suite_el = ET.SubElement(root, "testsuite", attrib)
        props = ET.SubElement(suite_el, "properties")
        for name, value in properties(manifest, target, baseline, differs or []):
            ET.SubElement(props, "property", name=name, value=value)
        for case in own:  # per test case properties break the Ant schema; these are suite-wide
            if case.mde:
                name = f"mde.{_classname(suite, case)}.{case.metric}"
                ET.SubElement(props, "property", name=name, value=case.mde)
        for case in own:
            el = ET.SubElement(
                suite_el,
                "testcase",
                name=case.name,
                classname=_classname(suite, case),
                time=f"{case.seconds:.3f}",
            )
            tag = OUTCOME_TAG.get(case.outcome)
            if tag is not None:
                child = ET.SubElement(el, tag, message=case.message, type=case.kind or tag)
                child.text = case.detail or case.message
            elif case.detail or case.message:
                ET.SubElement(el, "system-out").text = "\n".join(
                    filter(None, [case.message, case.detail])
                )
        for key in totals:
            totals[key] += counts[key]
        total_time += seconds
    for key, count in totals.items():
        root.set(key, str(count))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)

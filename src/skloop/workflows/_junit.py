"""JUnit XML of a :class:`ValidationReport`: a ``testsuite`` per check family, a ``testcase`` per check.

The format CI systems read (GitHub, GitLab, Jenkins): a failed check is a
``<failure message=...>``, a skipped one ``<skipped message=...>``; every message is
also in the case's ``<system-out>``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from skloop.workflows._validate import FAMILIES, ValidationReport

__all__ = ["junit_xml", "write_junit"]


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def junit_xml(report: ValidationReport) -> str:
    """The report as a JUnit XML document (a string, with the XML declaration).

    Examples
    --------
    >>> from skloop.workflows._validate import CheckResult
    >>> report = ValidationReport("churn", 2, "abc", None, (CheckResult("gates", "g", "fail", "low"),), 0.1)
    >>> '<failure message="low"' in junit_xml(report)
    True
    """
    counts = report.counts()
    root = ET.Element(
        "testsuites",
        name=f"skloop validate {report.ref}",
        tests=str(len(report.checks)),
        failures=str(counts["fail"]),
        errors="0",
        skipped=str(counts["skip"]),
        time=_seconds(report.duration_s),
    )
    families = [f for f in FAMILIES if any(c.family == f for c in report.checks)]
    families += sorted({c.family for c in report.checks} - set(families))
    for family in families:
        cases = [c for c in report.checks if c.family == family]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=family,
            tests=str(len(cases)),
            failures=str(sum(c.status == "fail" for c in cases)),
            errors="0",
            skipped=str(sum(c.status == "skip" for c in cases)),
            time=_seconds(sum(c.duration_s for c in cases)),
        )
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="model", value=report.ref)
        for check in cases:
            case = ET.SubElement(
                suite, "testcase", classname=f"skloop.{family}", name=check.name, time=_seconds(check.duration_s)
            )
            if check.status == "fail":
                ET.SubElement(case, "failure", message=check.message, type="ValidationFailure").text = check.message
            elif check.status == "skip":
                ET.SubElement(case, "skipped", message=check.message)
            if check.message:
                ET.SubElement(case, "system-out").text = check.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: ValidationReport, path: str | os.PathLike[str]) -> Path:
    """Write :func:`junit_xml` of ``report`` to ``path`` (parents created); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(junit_xml(report), encoding="utf-8")
    return out

"""JUnit XML for CI: one test suite per artifact, one test case per budget, a failure per missed one.

The layout follows the common JUnit schema (testsuites > testsuite[name, tests, failures, errors,
skipped, time] > testcase[name, classname, time] > failure[message, type]) that GitHub, GitLab and
Jenkins test reporters read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from edgecnn.fileio import write_bytes
from edgecnn.verify.record import BuildReport


def junit_xml(report: BuildReport) -> bytes:
    checks = report.gate.checks
    suites = ET.Element("testsuites", name=f"edgecnn verify {report.recipe.name}")
    for artifact in report.artifacts:
        own = [c for c in checks if c.artifact == artifact.name and c.gated]
        if not own:
            continue
        failures = [c for c in own if not c.passed]
        skipped = [c for c in own if c.inconclusive]
        suite = ET.SubElement(suites, "testsuite", name=artifact.name, tests=str(len(own)),
                              failures=str(len(failures)), errors="0", skipped=str(len(skipped)), time="0")
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="path", value=artifact.path)
        for check in own:
            case = ET.SubElement(suite, "testcase", name=check.budget, classname=f"edgecnn.{artifact.name}", time="0")
            if check.inconclusive:  # an A/B latency check whose interval straddles the limit
                ET.SubElement(case, "skipped", message=f"{check.budget}: inconclusive, noise too high (ratio "
                              f"{check.measured:.3f}, limit {check.limit:.3f})")
            elif not check.passed:
                measured = "not measured" if check.measured is None else f"{check.measured:.6g}"
                failure = ET.SubElement(case, "failure", type="BudgetExceeded",
                                        message=f"{check.budget}: measured {measured}, limit {check.limit:.6g}")
                failure.text = f"{artifact.path}: {check.budget} measured {measured}, limit {check.limit:.6g}"
    suites.set("tests", str(sum(int(s.get("tests")) for s in suites)))
    suites.set("failures", str(sum(int(s.get("failures")) for s in suites)))
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def write_junit(report: BuildReport, path: Path) -> Path:
    return write_bytes(Path(path), junit_xml(report))

"""The Prometheus rules in deploy/helm/genmedia/files/rules/: valid, unit-tested, and querying real metrics.

`promtool check rules` validates every rule file, `promtool test rules` runs the unit tests in
rules/tests/ (synthetic series in, expected alerts and recorded values out), and every metric
name the rules query is checked against its source: genmedia's own (`ray_genmedia_*`) against
the catalog in services/metrics.py, Ray Serve's (`ray_serve_*`) against the installed Ray.

promtool comes with Debian's prometheus package: scripts/install_system_deps.sh installs it
(bootstrap runs it). These tests fail, not skip, when it is missing: the rules are only as
good as their tests.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "helm" / "genmedia" / "files" / "rules"
RULE_FILES = sorted(RULES_DIR.glob("*.rules.yaml"))
TEST_FILES = sorted((RULES_DIR / "tests").glob("*.test.yaml"))
METRICS_SOURCE = REPO / "services" / "metrics.py"
SLO_DOC = REPO / "docs" / "slo.md"

# Suffixes Prometheus adds to a histogram's or counter's base name.
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def _promtool() -> str:
    found = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if found is None:
        pytest.fail("promtool not found: run scripts/install_system_deps.sh (bootstrap installs it) "
                    "to get Prometheus' promtool, which checks and unit-tests the alerting rules")
    return found


def _run(*args: str, cwd: Path) -> None:
    proc = subprocess.run([_promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (f"promtool {' '.join(args)} exited {proc.returncode}\n"
                                  f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")


def _exprs() -> str:
    """Text of every rule file, comments dropped (they name metrics in prose)."""
    return "\n".join(re.sub(r"(?m)^\s*#.*$", "", p.read_text()) for p in RULE_FILES)


def test_rule_and_test_files_exist():
    names = {p.name for p in RULE_FILES}
    assert {"genmedia-slo.rules.yaml", "genmedia-alerts.rules.yaml"} <= names, names
    assert TEST_FILES, f"no promtool unit tests in {RULES_DIR / 'tests'}"


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(rule_file: Path):
    _run("check", "rules", rule_file.name, cwd=rule_file.parent)


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests(test_file: Path):
    # rule_files in a test file are relative to the test file.
    _run("test", "rules", test_file.name, cwd=test_file.parent)


def test_rules_have_no_helm_templating():
    # The chart embeds these files verbatim in a PrometheusRule: `{{` would be read by Helm.
    for path in RULE_FILES:
        assert "{{" not in path.read_text(), f"{path.name} contains '{{{{'"


def _catalog() -> set[str]:
    return set(re.findall(r"""["'](genmedia_[a-z0-9_]+)["']""", METRICS_SOURCE.read_text()))


def test_genmedia_metrics_in_rules_exist_in_catalog():
    catalog = _catalog()
    assert "genmedia_generation_duration_seconds" in catalog, "could not parse services/metrics.py"
    used = set(re.findall(r"\bray_(genmedia_[a-z0-9_]+)", _exprs()))
    assert used, "the rules query no ray_genmedia_* metric"
    unknown = []
    for name in sorted(used):
        bases = {name} | {name[: -len(s)] for s in _SUFFIXES if name.endswith(s)}
        if not bases & catalog:
            unknown.append(f"ray_{name}")
    assert not unknown, f"metrics queried by the rules but not defined in services/metrics.py: {unknown}"


def test_ray_serve_metrics_in_rules_exist_in_ray():
    spec = importlib.util.find_spec("ray")  # located, not imported (importing Ray takes seconds)
    assert spec is not None and spec.submodule_search_locations, "ray is not installed"
    serve_dir = Path(list(spec.submodule_search_locations)[0]) / "serve"
    source = "\n".join(p.read_text(errors="replace") for p in serve_dir.rglob("*.py"))
    defined = set(re.findall(r"""["'](serve_[a-z0-9_]+)["']""", source))
    used = set(re.findall(r"\bray_(serve_[a-z0-9_]+)", _exprs()))
    assert used, "the rules query no ray_serve_* metric"
    unknown = []
    for name in sorted(used):
        bases = {name} | {name[: -len(s)] for s in _SUFFIXES if name.endswith(s)}
        if not bases & defined:
            unknown.append(f"ray_{name}")
    assert not unknown, f"Ray Serve metrics queried by the rules but not defined by the installed Ray: {unknown}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_has_a_runbook_section():
    import yaml

    anchors = {_anchor(h) for h in re.findall(r"(?m)^#+\s+(.+)$", SLO_DOC.read_text())}
    missing = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                url = rule.get("annotations", {}).get("runbook_url", "")
                page, _, anchor = url.partition("#")
                if not page.endswith("/docs/slo.md") or anchor not in anchors:
                    missing.append(f"{rule['alert']}: {url!r}")
                for key in ("severity",):
                    assert key in rule.get("labels", {}), f"{rule['alert']} has no {key} label"
    assert not missing, f"runbook_url without a matching heading in docs/slo.md: {missing}"

"""The Grafana dashboards (deploy/helm/genmedia/files/dashboards/*.json), checked without Grafana.

1. Type check against Grafana's own schema: every dashboard becomes a TypeScript constant typed as
   `Dashboard` from `@grafana/schema` (the package root exports the classic dashboard JSON model,
   schemaVersion 39+; the v2 `schema/dashboard/*` types describe Kubernetes-style resources instead),
   and `tsc --noEmit --strict` runs once over all of them. Object literals get TypeScript's
   excess-property check, so a misspelt or unknown field is an error, and so is a wrong type
   (`"gridPos": {"x": "a"}`), a missing required field (`fieldConfig.overrides`) or a value outside
   an enum. The type is wrapped in `Json<>`, which turns string enums (ThresholdsMode,
   FieldColorModeId, ...) into their string values: JSON spells `ThresholdsMode.Absolute` as
   "absolute", which TypeScript would not accept for the enum itself. Deliberately broken copies
   go through the same tsc run, to prove the check bites.
2. Static checks: unique uids and panel ids, every target has a refId and an expr, the Prometheus
   datasource variable everywhere, `$__rate_interval` in every range, and every metric a query
   names exists: a ray_genmedia_* name from the catalog in services/metrics.py, a ray_serve_* name
   Ray Serve exports, or one of the SLO recording rules.
3. tests.grafana_queries substitutes every variable (no `$` left) for the integration test that
   runs the queries against a real Prometheus.

The Node tools come from deploy/tooling (pinned there); without them this test FAILS, with a hint.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.grafana_queries import (
    DASHBOARDS_DIR,
    UnknownVariable,
    dashboard_queries,
    iter_panels,
    load_dashboards,
    substitute,
    variable_values,
)

ROOT = Path(__file__).resolve().parents[2]
TOOLING = ROOT / "deploy" / "tooling"
NODE_MODULES = TOOLING / "node_modules"
TSC = NODE_MODULES / ".bin" / "tsc"
SCHEMA_PACKAGE = NODE_MODULES / "@grafana" / "schema" / "package.json"
METRICS_PY = ROOT / "services" / "metrics.py"
INSTALL_HINT = "run `bash scripts/install_node_tools.sh` (needs Node.js 18+ and npm) to install tsc and @grafana/schema"

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
EXPECTED = {"genmedia-overview", "genmedia-stages", "genmedia-safety-provenance", "genmedia-slo"}

# Ray Serve's own metrics the dashboards may use (Ray prefixes them with ray_ like ours).
RAY_SERVE_METRICS = {
    "ray_serve_deployment_queued_queries",
    "ray_serve_replica_processing_queries",
    "ray_serve_num_ongoing_requests_at_replicas",
    "ray_serve_deployment_replica_starts_total",
    "ray_serve_deployment_replica_healthy",
    "ray_serve_autoscaling_target_replicas",
    "ray_serve_deployment_processing_latency_ms_bucket",
    "ray_serve_deployment_processing_latency_ms_sum",
    "ray_serve_deployment_processing_latency_ms_count",
    "ray_serve_deployment_request_counter_total",
}
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
RECORDING_RULES = {
    *(f"genmedia:availability_errors:ratio_rate{w}" for w in SLO_WINDOWS),
    *(f"genmedia:latency_slow:ratio_rate{w}" for w in SLO_WINDOWS),
    "genmedia:availability_error_budget:remaining",
    "genmedia:latency_error_budget:remaining",
    "genmedia:grpc_requests:rate5m",
    "genmedia:stage_duration_seconds:p99_5m",
    "genmedia:stage_duration_seconds:p50_5m",
}
RAY_LABELS = {"application", "deployment", "replica"}

# Written next to the dashboards for tsc: the schema's Dashboard as its JSON spells it.
JSON_TYPES_TS = """\
import type { Dashboard } from "@grafana/schema";

/** T as JSON spells it: a string enum member becomes its value (ThresholdsMode.Absolute -> "absolute"). */
export type Json<T> = T extends string
  ? `${T}`
  : T extends ReadonlyArray<infer U>
    ? Array<Json<U>>
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

export type DashboardJson = Json<Dashboard>;
"""


# -- helpers -----------------------------------------------------------------------------------


def dashboards() -> dict[Path, dict]:
    return load_dashboards(DASHBOARDS_DIR)


def panels(dashboard: dict) -> list[dict]:
    return [p for p in iter_panels(dashboard) if p.get("type") != "row"]


def metric_catalog() -> tuple[set[str], dict[str, set[str]]]:
    """Names (as Prometheus sees them, ray_ prefix and histogram suffixes) and labels of services/metrics.py."""
    tree = ast.parse(METRICS_PY.read_text())
    constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)
                 and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)}
    names: set[str] = set()
    labels: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("Counter", "Gauge", "Histogram") and node.args):
            continue
        arg = node.args[0]
        name = arg.value if isinstance(arg, ast.Constant) else constants.get(getattr(arg, "id", ""))
        assert isinstance(name, str) and name.startswith("genmedia_"), ast.dump(arg)
        tags = set()
        for kw in node.keywords:
            if kw.arg == "tag_keys":
                tags = {e.value for e in kw.value.elts}
        base = f"ray_{name}"
        series = [f"{base}_bucket", f"{base}_sum", f"{base}_count"] if node.func.id == "Histogram" else [base]
        for s in series:
            names.add(s)
            labels[s] = tags | RAY_LABELS | ({"le"} if s.endswith("_bucket") else set())
    return names, labels


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
             "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric (and recording rule) names a PromQL expression selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)                     # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)                    # range selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)\s*(\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names in its matchers) for each `metric{...}` in an expression."""
    out = []
    for match in re.finditer(r"([A-Za-z_:][\w:]*)\{([^}]*)\}", expr):
        matched = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", re.sub(r'"(?:[^"\\]|\\.)*"', '""', match.group(2))))
        out.append((match.group(1), matched))
    return out


# -- the tsc type check --------------------------------------------------------------------------


def _broken_variants(dashboard: dict) -> dict[str, dict]:
    """Copies of a good dashboard with one mistake each, that Grafana's schema must reject."""
    variants = {}

    wrong_type = copy.deepcopy(dashboard)
    panels(wrong_type)[0]["gridPos"]["x"] = "a"
    variants["gridpos_string"] = wrong_type

    unknown_field = copy.deepcopy(dashboard)
    panels(unknown_field)[0]["gridpos"] = panels(unknown_field)[0].pop("gridPos")  # misspelt
    variants["panel_unknown_field"] = unknown_field

    unknown_unit_field = copy.deepcopy(dashboard)
    defaults = panels(unknown_unit_field)[0]["fieldConfig"]["defaults"]
    defaults["units"] = defaults.pop("unit")
    variants["fieldconfig_unknown_field"] = unknown_unit_field

    bad_threshold_mode = copy.deepcopy(dashboard)
    panels(bad_threshold_mode)[0]["fieldConfig"]["defaults"]["thresholds"]["mode"] = "absolutely"
    variants["threshold_mode"] = bad_threshold_mode

    bad_variable = copy.deepcopy(dashboard)
    bad_variable["templating"]["list"][0]["type"] = "datasouce"
    variants["variable_type"] = bad_variable

    no_overrides = copy.deepcopy(dashboard)
    del panels(no_overrides)[0]["fieldConfig"]["overrides"]
    variants["fieldconfig_missing_overrides"] = no_overrides
    return variants


@pytest.fixture(scope="module")
def tsc_run(tmp_path_factory) -> tuple[dict[str, Path], dict[str, list[str]], str]:
    """One tsc run over every dashboard and every broken variant: (files by name, errors by file, output)."""
    missing = [str(p.relative_to(ROOT)) for p in (TSC, SCHEMA_PACKAGE) if not p.exists()]
    if missing:
        pytest.fail(f"Node tooling missing ({', '.join(missing)}): {INSTALL_HINT}")
    if shutil.which("node") is None:
        pytest.fail(f"node not found on PATH: {INSTALL_HINT}")

    work = tmp_path_factory.mktemp("dashboards-ts")
    (work / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    (work / "grafana-json.ts").write_text(JSON_TYPES_TS)
    files: dict[str, Path] = {}

    def write(name: str, dashboard: dict) -> None:
        path = work / f"{name}.ts"
        path.write_text('import type { DashboardJson } from "./grafana-json";\n\n'
                        f"export const dashboard: DashboardJson = {json.dumps(dashboard, indent=2)};\n")
        files[name] = path

    loaded = dashboards()
    for path, dashboard in loaded.items():
        write(path.stem, dashboard)
    overview = next(d for d in loaded.values() if d["uid"] == "genmedia-overview")
    for name, dashboard in _broken_variants(overview).items():
        write(f"broken-{name}", dashboard)

    (work / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "target": "es2022", "module": "preserve",
                            "moduleResolution": "bundler", "skipLibCheck": True, "types": [],
                            "noErrorTruncation": False},
        "files": ["grafana-json.ts", *(p.name for p in files.values())],
    }, indent=2))
    result = subprocess.run([str(TSC), "--noEmit", "--strict", "--pretty", "false", "-p", str(work / "tsconfig.json")],
                            cwd=work, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    errors: dict[str, list[str]] = {}
    for line in output.splitlines():
        match = re.match(r"^(?P<file>[^()\s]+\.ts)\(\d+,\d+\): error (?P<msg>.*)", line)
        if match:
            errors.setdefault(Path(match.group("file")).stem, []).append(match.group("msg"))
    assert result.returncode == 0 or errors, f"tsc failed without file errors (exit {result.returncode}):\n{output}"
    return files, errors, output


def test_dashboards_type_check_against_grafana_schema(tsc_run):
    files, errors, output = tsc_run
    good = [stem for stem in files if not stem.startswith("broken-")]
    assert {Path(p).stem for p in DASHBOARDS_DIR.glob("*.json")} == set(good)
    failing = {stem: errors[stem] for stem in good if stem in errors}
    assert not failing, "tsc rejects dashboards against @grafana/schema:\n" + output


@pytest.mark.parametrize("variant,code", [
    ("gridpos_string", "TS2322"),               # Type 'string' is not assignable to type 'number'
    ("panel_unknown_field", "TS2353"),          # excess property: 'gridpos' does not exist
    ("fieldconfig_unknown_field", "TS2353"),
    ("threshold_mode", "TS2820"),               # not one of ThresholdsMode's values ("did you mean")
    ("variable_type", "TS2820"),                # not a VariableType ("did you mean 'datasource'")
    ("fieldconfig_missing_overrides", "TS2741"),  # required property missing
])
def test_type_check_rejects_broken_dashboard(tsc_run, variant, code):
    files, errors, output = tsc_run
    stem = f"broken-{variant}"
    assert stem in files
    assert any(msg.startswith(code) for msg in errors.get(stem, [])), \
        f"tsc did not reject {variant} with {code}:\n{output}"


# -- static checks -----------------------------------------------------------------------------


def test_expected_dashboards_with_unique_uids():
    loaded = dashboards()
    uids = [d["uid"] for d in loaded.values()]
    assert len(uids) == len(set(uids)), uids
    assert set(uids) == EXPECTED
    for path, dashboard in loaded.items():
        assert path.stem == dashboard["uid"], f"{path.name}: name the file after its uid"
        assert dashboard["schemaVersion"] >= 39
        assert "genmedia" in dashboard["tags"]
        assert dashboard.get("id") is None, f"{path.name}: a provisioned dashboard has no numeric id"
        assert dashboard["title"]


@pytest.mark.parametrize("path", sorted(DASHBOARDS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_panels_and_targets(path):
    dashboard = json.loads(path.read_text())
    ids = [p["id"] for p in iter_panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(ids)}"
    for panel in panels(dashboard):
        where = f"{path.name} / {panel.get('title')}"
        assert panel.get("title"), where
        assert panel["type"] in ("timeseries", "stat", "gauge", "bargauge"), where
        assert panel.get("datasource") == DATASOURCE, where
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, f"{where}: {pos}"
        targets = panel.get("targets") or []
        assert targets, f"{where}: no targets"
        ref_ids = [t.get("refId") for t in targets]
        assert all(ref_ids) and len(ref_ids) == len(set(ref_ids)), f"{where}: refIds {ref_ids}"
        for target in targets:
            assert target.get("expr", "").strip(), f"{where} {target.get('refId')}: no expr"
            assert target.get("datasource") == DATASOURCE, f"{where} {target['refId']}"
            for window in re.findall(r"\[([^\]]*)\]", target["expr"]):
                assert window in ("$__rate_interval", "$__range"), \
                    f"{where} {target['refId']}: range [{window}]; use [$__rate_interval]"


@pytest.mark.parametrize("path", sorted(DASHBOARDS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_variables(path):
    dashboard = json.loads(path.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    app = variables["application"]
    assert app["type"] == "query" and app["datasource"] == DATASOURCE
    assert app["query"] == "label_values(ray_genmedia_grpc_requests_total, application)"
    used = set()
    for panel in panels(dashboard):
        for target in panel["targets"]:
            used |= set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert 'application="$application"' in target["expr"], \
                f"{panel['title']} {target['refId']}: filter every selector on the application"
    assert used - {"__rate_interval", "__range"} <= set(variables), used
    for name, variable in variables.items():
        if variable.get("multi") or variable.get("includeAll"):
            assert variable.get("allValue") == ".+", f"{name}: set allValue to .+ (All is a regex match)"


def test_catalog_is_parsed():
    names, labels = metric_catalog()
    assert "ray_genmedia_grpc_requests_total" in names  # named through RPC_NAME
    assert "ray_genmedia_stage_duration_seconds_bucket" in names
    assert "ray_genmedia_stage_duration_seconds" not in names
    assert labels["ray_genmedia_stage_duration_seconds_bucket"] >= {"stage", "model", "le", "deployment"}
    assert metric_names('sum by (le) (rate(a_b{x="y{z}"}[5m])) / on() group_left c:d:e or vector(0)') == {"a_b", "c:d:e"}


def test_queries_use_only_known_metrics_and_labels():
    catalog, labels = metric_catalog()
    known = catalog | RAY_SERVE_METRICS | RECORDING_RULES
    unknown, bad_labels = [], []
    for query in dashboard_queries():
        for name in metric_names(query.expr) - known:
            unknown.append(f"{query.dashboard_uid} / {query.panel_title} / {query.ref_id}: {name}")
        for metric, matched in selectors(query.expr):
            if metric in labels and not matched <= labels[metric]:
                bad_labels.append(f"{query.dashboard_uid} / {query.panel_title}: {metric} has no "
                                  f"{sorted(matched - labels[metric])}")
    assert not unknown, "metrics that services/metrics.py, Ray Serve or the SLO rules do not define:\n" + \
        "\n".join(unknown)
    assert not bad_labels, "\n".join(bad_labels)


# -- tests.grafana_queries -----------------------------------------------------------------------


def test_queries_listed_for_every_target():
    queries = dashboard_queries()
    expected = sum(len(p["targets"]) for d in dashboards().values() for p in panels(d))
    assert len(queries) == expected
    assert {q.dashboard_uid for q in queries} == EXPECTED
    assert all(q.expr and q.ref_id and q.panel_title for q in queries)


def test_substitution_leaves_no_variables():
    for query in dashboard_queries():
        assert "$" not in query.expr_substituted and "[[" not in query.expr_substituted, str(query)
        assert 'application="genmedia"' in query.expr_substituted, str(query)
    windows = {w for q in dashboard_queries(window="30s") for w in re.findall(r"\[([^\]]*)\]", q.expr_substituted)}
    assert windows <= {"30s", "5m"}, windows


def test_substitution_rules():
    board = {"templating": {"list": [
        {"name": "datasource", "type": "datasource"},
        {"name": "application", "type": "query"},
        {"name": "deployment", "type": "query", "multi": True, "includeAll": True, "allValue": ".+"},
        {"name": "stage", "type": "query", "multi": True},
        {"name": "single", "type": "query"},
    ]}}
    resolved = variable_values(board, window="2m", range_="1h")
    expr = ('rate(x{application="$application", deployment=~"${deployment}", stage=~"[[stage]]"}[$__rate_interval])'
            ' + increase(y[${__range}]) + $__range_s + $__interval')
    assert substitute(expr, resolved) == (
        'rate(x{application="genmedia", deployment=~".+", stage=~".+"}[2m]) + increase(y[1h]) + 3600 + 2m')
    assert substitute('x{a="${application:regex}"}', resolved) == 'x{a="genmedia"}'
    with pytest.raises(UnknownVariable):
        substitute('x{a="$single"}', resolved)
    with pytest.raises(UnknownVariable):
        substitute('x{a="$typo"}', resolved)
    assert substitute('x{a="$single"}', variable_values(board, values={"single": "v"})) == 'x{a="v"}'

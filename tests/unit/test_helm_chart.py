"""The Helm chart deploy/helm/genmedia: lint, render, and check what it renders.

Core objects are validated against the Kubernetes OpenAPI schemas (kubernetes-validate, strict:
unknown fields fail); the CRD objects (RayService, PodMonitor, PrometheusRule) are checked by
structure, the pod templates inside the RayService as Pods, and the embedded Serve config by
Ray Serve's own schema and by genmedia's AppConfig. Needs the helm binary that
scripts/install_node_tools.sh installs (deploy/tooling/bin/helm); fails, never skips, without it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from ray.serve.schema import (
    HTTPOptionsSchema,
    ServeApplicationSchema,
    ServeDeploySchema,
    gRPCOptionsSchema,
)

from services.config import AppConfig

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "genmedia"
PRODUCTION = CHART / "values-gpu-production.yaml"
# Validated against the oldest and newest Kubernetes minors the chart claims (kubeVersion >= 1.27
# renders; 1.30 is the oldest schema checked here) that kubernetes-validate ships.
K8S_VERSIONS = ("1.30.0", "1.33.0")
CORE_KINDS = {"Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap"}
SECRET_VALUE_ENVS = ("GENMEDIA_WATERMARK_KEY", "GENMEDIA_RECORD_KEY", "GENMEDIA_RECORDS_URL")
C2PA_PATH_ENVS = ("GENMEDIA_C2PA_CERT_CHAIN", "GENMEDIA_C2PA_PRIVATE_KEY", "GENMEDIA_C2PA_TRUST_ANCHORS")


def _helm() -> str:
    found = os.environ.get("HELM") or (
        str(ROOT / "deploy/tooling/bin/helm") if (ROOT / "deploy/tooling/bin/helm").exists() else shutil.which("helm")
    )
    if not found:
        pytest.fail("helm not found: run `bash scripts/install_node_tools.sh` (installs deploy/tooling/bin/helm)")
    return found


def helm(*args: str, chart: Path = CHART, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([_helm(), *args[:1], *(["rel"] if args[0] == "template" else []), str(chart), *args[1:]],
                          capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def render(*args: str, chart: Path = CHART) -> list[dict]:
    out = helm("template", "--namespace", "genmedia", *args, chart=chart).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def one(docs: list[dict], kind: str) -> dict:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def pod_templates(rayservice: dict) -> dict[str, dict]:
    cluster = rayservice["spec"]["rayClusterConfig"]
    templates = {"head": cluster["headGroupSpec"]["template"]}
    for group in cluster["workerGroupSpecs"]:
        templates[group["groupName"]] = group["template"]
    return templates


def containers(rayservice: dict):
    for name, template in pod_templates(rayservice).items():
        for container in template["spec"]["containers"]:
            yield name, template, container


@pytest.fixture(scope="module")
def default_docs() -> list[dict]:
    return render()


@pytest.fixture(scope="module")
def production_docs() -> list[dict]:
    return render("-f", str(PRODUCTION))


@pytest.fixture(params=["default", "production"])
def docs(request, default_docs, production_docs) -> list[dict]:
    return default_docs if request.param == "default" else production_docs


@pytest.mark.parametrize("values", [[], ["-f", str(PRODUCTION)]], ids=["default", "production"])
def test_lint_strict(values):
    proc = helm("lint", "--strict", *values)
    assert "0 chart(s) failed" in proc.stdout


def test_renders_the_expected_objects(default_docs, production_docs):
    kinds = sorted({d["kind"] for d in default_docs})
    assert {"RayService", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy", "PodMonitor"} <= set(kinds)
    assert all(d["metadata"]["labels"]["app.kubernetes.io/instance"] == "rel" for d in default_docs)
    # Production: a PDB for the head and one per worker group (both have minReplicas > 0).
    pdbs = {d["metadata"]["name"] for d in production_docs if d["kind"] == "PodDisruptionBudget"}
    assert pdbs == {"rel-genmedia-head", "rel-genmedia-gpu", "rel-genmedia-cpu"}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_objects_validate_against_kubernetes_schemas(docs, version):
    checked = 0
    for doc in docs:
        if doc["kind"] in CORE_KINDS:
            kubernetes_validate.validate(doc, version, strict=True)
            checked += 1
    assert checked >= 4


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_ray_pod_templates_validate_as_pods(docs, version):
    rayservice = one(docs, "RayService")
    for name, template in pod_templates(rayservice).items():
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"check-{name}", **template.get("metadata", {})}, "spec": template["spec"]}
        kubernetes_validate.validate(pod, version, strict=True)


def test_rayservice_structure(docs):
    rs = one(docs, "RayService")
    assert rs["apiVersion"] == "ray.io/v1"
    spec = rs["spec"]
    assert isinstance(spec["serveConfigV2"], str)
    cluster = spec["rayClusterConfig"]
    assert cluster["rayVersion"] == "2.60.0"
    assert cluster["enableInTreeAutoscaling"] is True
    assert isinstance(cluster["autoscalerOptions"]["idleTimeoutSeconds"], int)
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-gpus"] == "0"
    assert head["rayStartParams"]["metrics-export-port"] == "8080"
    assert head["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    head_ports = {p["name"]: p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]}
    assert head_ports == {"gcs-server": 6379, "dashboard": 8265, "client": 10001, "serve": 8000, "grpc": 9000,
                          "metrics": 8080}
    assert head["template"]["spec"]["containers"][0]["name"] == "ray-head"
    groups = cluster["workerGroupSpecs"]
    assert groups and len({g["groupName"] for g in groups}) == len(groups)
    for group in groups:
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        # KubeRay wants every rayStartParams value as a string.
        assert all(isinstance(v, str) for v in group["rayStartParams"].values())
        assert group["rayStartParams"]["metrics-export-port"] == "8080"
        ports = {p["name"]: p["containerPort"] for p in group["template"]["spec"]["containers"][0]["ports"]}
        assert ports == {"serve": 8000, "grpc": 9000, "metrics": 8080}
    for _, template, container in containers(rs):
        assert template["spec"]["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
        assert container["image"].endswith(":0.1.0")


def test_production_worker_groups(production_docs):
    groups = {g["groupName"]: g for g in one(production_docs, "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"]}
    gpu, cpu = groups["gpu"]["template"]["spec"], groups["cpu"]["template"]["spec"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu.product" in gpu["nodeSelector"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu["tolerations"]
    assert "nvidia.com/gpu" not in cpu["containers"][0]["resources"]["limits"]
    assert groups["cpu"]["rayStartParams"]["num-gpus"] == "0"


def _serve_config(docs: list[dict]) -> dict:
    return yaml.safe_load(one(docs, "RayService")["spec"]["serveConfigV2"])


def _known_keys(config: dict) -> None:
    """Ray's schemas ignore unknown keys; a typo there would pass silently, so check them here."""
    assert set(config) <= set(ServeDeploySchema.model_fields), set(config) - set(ServeDeploySchema.model_fields)
    assert set(config["http_options"]) <= set(HTTPOptionsSchema.model_fields)
    assert set(config["grpc_options"]) <= set(gRPCOptionsSchema.model_fields)
    for app in config["applications"]:
        assert set(app) <= set(ServeApplicationSchema.model_fields), set(app) - set(ServeApplicationSchema.model_fields)


def test_serve_config_passes_ray_serve_and_genmedia_validation(docs):
    config = _serve_config(docs)
    ServeDeploySchema.model_validate(config)
    _known_keys(config)
    assert config["grpc_options"]["port"] == 9000
    assert config["grpc_options"]["grpc_servicer_functions"] == yaml.safe_load(
        (ROOT / "config" / "gpu.yaml").read_text())["grpc_options"]["grpc_servicer_functions"]
    [app] = config["applications"]
    assert app["name"] == "genmedia" and app["import_path"] == "services.app:build_app"
    AppConfig.model_validate(app["args"])
    # Kubernetes never takes the throwaway development keys: every secret must come from a Secret.
    assert "dev_keys_dir" not in app["args"].get("provenance", {})


def test_production_serve_config_uses_s3(production_docs):
    args = AppConfig.model_validate(_serve_config(production_docs)["applications"][0]["args"])
    assert args.storage.backend == "s3" and args.storage.s3_bucket
    assert {m.source.split(":")[0] for m in args.models} == {"s3"}
    assert args.denoiser.actor.num_gpus > 0 and args.ingress.actor.num_gpus == 0


def test_serve_config_shape_matches_config_gpu_yaml(production_docs):
    """The production values carry config/gpu.yaml's Serve config, apart from paths and models."""
    mine, theirs = _serve_config(production_docs), yaml.safe_load((ROOT / "config" / "gpu.yaml").read_text())
    assert set(mine) == set(theirs)
    assert mine["proxy_location"] == theirs["proxy_location"] == "EveryNode"
    assert set(mine["applications"][0]["args"]) == set(theirs["applications"][0]["args"])


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def test_secrets_are_referenced_never_inlined(docs):
    rs = one(docs, "RayService")
    for group, template, container in containers(rs):
        env = _env(container)
        for name, entry in env.items():
            if re.fullmatch(r"GENMEDIA_.*(KEY|URL).*", name) and name not in C2PA_PATH_ENVS:
                assert "value" not in entry, f"{group}: {name} is inlined"
                assert entry["valueFrom"]["secretKeyRef"]["name"], f"{group}: {name} has no Secret"
            assert not re.fullmatch(r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)", name), (
                f"{group}: static AWS credentials ({name}); S3 access goes through the IAM role")
        assert set(SECRET_VALUE_ENVS) <= set(env), f"{group}: missing {set(SECRET_VALUE_ENVS) - set(env)}"
        # The C2PA variables are file paths (provenance/keys.py) into a mounted Secret.
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        secret_volumes = {v["name"] for v in template["spec"]["volumes"] if "secret" in v}
        for name in C2PA_PATH_ENVS:
            if name not in env:
                continue
            path = env[name]["value"]
            assert any(path.startswith(mounts[v].rstrip("/") + "/") for v in secret_volumes if v in mounts), (
                f"{group}: {name}={path} is not inside a mounted Secret")
    # No Secret object is ever rendered by the chart.
    assert not [d for d in docs if d["kind"] == "Secret"]


def test_secret_names_come_from_values():
    docs = render("--set", "secrets.existingSecret=prod-keys", "--set", "secrets.c2pa.existingSecret=prod-c2pa",
                  "--set", "secrets.keys.recordsUrl=pg-url")
    for _, template, container in containers(one(docs, "RayService")):
        env = _env(container)
        for name in SECRET_VALUE_ENVS:
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "prod-keys"
        assert env["GENMEDIA_RECORDS_URL"]["valueFrom"]["secretKeyRef"]["key"] == "pg-url"
        [c2pa] = [v for v in template["spec"]["volumes"] if v["name"] == "c2pa"]
        assert c2pa["secret"]["secretName"] == "prod-c2pa"


def test_api_key_file_is_mounted_as_a_directory_where_the_ingress_reads_it(default_docs, production_docs):
    for _, template, container in containers(one(default_docs, "RayService")):
        assert not [v for v in template["spec"]["volumes"] if v["name"] == "api-keys"]  # auth off by default
    keys_file = _serve_config(production_docs)["applications"][0]["args"]["ingress"]["auth"]["api_keys_file"]
    for _, template, container in containers(one(production_docs, "RayService")):
        [volume] = [v for v in template["spec"]["volumes"] if v["name"] == "api-keys"]
        [mount] = [m for m in container["volumeMounts"] if m["name"] == "api-keys"]
        assert volume["secret"]["secretName"] == "genmedia-api-keys" and "subPath" not in mount  # live updates
        assert keys_file == f"{mount['mountPath']}/{volume['secret']['items'][0]['path']}"


def test_production_identity_and_s3_env(production_docs):
    sa = one(production_docs, "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    for _, _, container in containers(one(production_docs, "RayService")):
        env = _env(container)
        assert env["AWS_REGION"]["value"] == "us-east-1"
        assert env["GENMEDIA_C2PA_TRUST_ANCHORS"]["value"].endswith(".pem")


def test_grpc_service_selects_serving_ray_pods(docs):
    svc = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"].endswith("-grpc"))
    assert svc["spec"]["selector"]["ray.io/serve"] == "true"
    assert svc["spec"]["ports"][0]["port"] == 9000 and svc["spec"]["ports"][0]["targetPort"] == "grpc"
    labels = pod_templates(one(docs, "RayService"))["head"]["metadata"]["labels"]
    assert {k: v for k, v in svc["spec"]["selector"].items() if k != "ray.io/serve"}.items() <= labels.items()


def test_pod_monitor_scrapes_every_ray_pod(docs):
    pm = one(docs, "PodMonitor")
    assert pm["apiVersion"] == "monitoring.coreos.com/v1"
    [endpoint] = pm["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics"
    selector = pm["spec"]["selector"]["matchLabels"]
    for template in pod_templates(one(docs, "RayService")).values():
        assert selector.items() <= template["metadata"]["labels"].items()
        assert any(p["name"] == "metrics" and p["containerPort"] == 8080 for p in template["spec"]["containers"][0]["ports"])


def test_pdbs_select_ray_pods(production_docs):
    templates = pod_templates(one(production_docs, "RayService"))
    for pdb in (d for d in production_docs if d["kind"] == "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        matched = [n for n, t in templates.items() if selector.items() <= t["metadata"]["labels"].items()]
        assert len(matched) == 1, (pdb["metadata"]["name"], matched)
        assert isinstance(pdb["spec"]["minAvailable"], int) and pdb["spec"]["minAvailable"] >= 1


def test_network_policy_ports(production_docs):
    np_ = one(production_docs, "NetworkPolicy")
    rules = np_["spec"]["ingress"]
    ports = lambda rule: {p["port"] for p in rule.get("ports", [])}  # noqa: E731
    assert any(not r.get("ports") and r["from"][0]["podSelector"] for r in rules), "no intra-release rule"
    api = next(r for r in rules if 9000 in ports(r))
    assert api["from"], "production restricts who may call the API"
    metrics = next(r for r in rules if ports(r) == {8080})
    assert metrics["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "monitoring"
    assert np_["spec"]["policyTypes"] == ["Ingress"]


def _rule_groups(chart: Path) -> list[dict]:
    groups = []
    for path in sorted((chart / "files" / "rules").glob("*.rules.yaml")):
        groups += yaml.safe_load(path.read_text())["groups"]
    return groups


EXAMPLE_RULES = """\
groups:
  - name: example.rules
    rules:
      - alert: ExampleDown
        expr: up == 0
        annotations:
          summary: "{{ $labels.pod }} is down ({{ $value }})"
"""
EXAMPLE_DASHBOARD = '{"title": "Example", "panels": [{"legendFormat": "{{replica}}"}]}\n'


@pytest.fixture(scope="module")
def chart_copy(tmp_path_factory) -> Path:
    """A copy of the chart with an extra example rules file and dashboard (never in the repo)."""
    copy = tmp_path_factory.mktemp("chart") / "genmedia"
    shutil.copytree(CHART, copy)
    (copy / "files" / "rules").mkdir(parents=True, exist_ok=True)
    (copy / "files" / "dashboards").mkdir(parents=True, exist_ok=True)
    (copy / "files" / "rules" / "zz-example.rules.yaml").write_text(EXAMPLE_RULES)
    (copy / "files" / "dashboards" / "zz_Example.json").write_text(EXAMPLE_DASHBOARD)
    tests_dir = copy / "files" / "rules" / "tests"
    tests_dir.mkdir(exist_ok=True)
    (tests_dir / "ignored.rules.yaml").write_text("not: [a rule file")  # .helmignore keeps it out
    return copy


def test_prometheus_rule_embeds_every_rules_file(chart_copy):
    docs = render(chart=chart_copy)
    rule = one(docs, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups = rule["spec"]["groups"]
    assert groups == _rule_groups(chart_copy)
    example = next(g for g in groups if g["name"] == "example.rules")
    # Rendered verbatim: the alert templating is left for Prometheus.
    assert example["rules"][0]["annotations"]["summary"] == "{{ $labels.pod }} is down ({{ $value }})"
    for group in groups:
        assert group["name"] and group["rules"]
        for r in group["rules"]:
            assert ("alert" in r) != ("record" in r) and r["expr"]


def test_prometheus_rule_matches_the_repo_files(default_docs):
    groups = _rule_groups(CHART)
    rules = [d for d in default_docs if d["kind"] == "PrometheusRule"]
    if groups:
        assert rules[0]["spec"]["groups"] == groups
    else:
        assert not rules, "an empty PrometheusRule is rendered when there are no rule files"


@pytest.mark.parametrize("version", K8S_VERSIONS[-1:])
def test_one_dashboard_configmap_per_file(chart_copy, version):
    docs = render("--set", "monitoring.dashboards.annotations.grafana_folder=genmedia", chart=chart_copy)
    files = sorted(p.name for p in (chart_copy / "files" / "dashboards").glob("*.json"))
    maps = [d for d in docs if d["kind"] == "ConfigMap"]
    assert sorted(k for m in maps for k in m["data"]) == files
    for m in maps:
        kubernetes_validate.validate(m, version, strict=True)
        assert m["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert m["metadata"]["annotations"]["grafana_folder"] == "genmedia"
        [(name, text)] = m["data"].items()
        assert text == (chart_copy / "files" / "dashboards" / name).read_text()
    assert "rel-genmedia-dashboard-zz-example" in {m["metadata"]["name"] for m in maps}


def test_monitoring_toggles(chart_copy):
    docs = render("--set", "monitoring.podMonitor.enabled=false", "--set", "monitoring.prometheusRule.enabled=false",
                  "--set", "monitoring.dashboards.enabled=false", "--set", "networkPolicy.enabled=false",
                  chart=chart_copy)
    assert not {"PodMonitor", "PrometheusRule", "ConfigMap", "NetworkPolicy"} & {d["kind"] for d in docs}


@pytest.mark.parametrize("bad, message", [
    (["--set", "bogus=1"], "bogus"),
    (["--set", "workerGroups[0].maxReplicas=-1"], "maxReplicas"),
    (["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
    (["--set", "serve.proxy_location=Everywhere"], "proxy_location"),
    (["--set", "workerGroups[0].rayStartParams.num-gpus=1"], "num-gpus"),
])
def test_schema_rejects_bad_values(bad, message):
    proc = helm("template", *bad, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_template_rejects_inconsistent_worker_groups(tmp_path):
    values = tmp_path / "bad.yaml"
    values.write_text("workerGroups:\n"
                      "  - {name: gpu, minReplicas: 3, maxReplicas: 2, resources: {}}\n")
    proc = helm("template", "-f", str(values), check=False)
    assert proc.returncode != 0 and "minReplicas 3 exceeds maxReplicas 2" in proc.stderr
    values.write_text("workerGroups:\n"
                      "  - {name: gpu, minReplicas: 1, maxReplicas: 2, resources: {}}\n"
                      "  - {name: gpu, minReplicas: 1, maxReplicas: 2, resources: {}}\n")
    proc = helm("template", "-f", str(values), check=False)
    assert proc.returncode != 0 and "used twice" in proc.stderr


def test_chart_version_matches_pyproject():
    import tomllib

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["apiVersion"] == "v2" and chart["name"] == "genmedia"
    assert chart["appVersion"] == project["version"]


def test_helmignore_keeps_tests_and_python_out(chart_copy, tmp_path):
    (chart_copy / "files" / "helper.py").write_text("print('no')\n")
    proc = helm("package", "--destination", str(tmp_path), chart=chart_copy)
    assert proc.returncode == 0
    import tarfile

    [archive] = tmp_path.glob("genmedia-*.tgz")
    names = tarfile.open(archive).getnames()
    assert not [n for n in names if "/files/rules/tests/" in n or n.endswith(".py")], names
    assert any(n.endswith("templates/rayservice.yaml") for n in names)


@pytest.mark.parametrize("values", [[], ["-f", str(PRODUCTION)]], ids=["default", "production"])
def test_notes_render(tmp_path, values):
    """NOTES.txt only renders on install; render it here through tpl in a throwaway copy."""
    copy = tmp_path / "genmedia"
    shutil.copytree(CHART, copy)
    shutil.copy(copy / "templates" / "NOTES.txt", copy / "files" / "notes.txt")
    (copy / "templates" / "notes-check.yaml").write_text(
        'kind: Notes\ntext: {{ tpl (.Files.Get "files/notes.txt") . | toJson }}\n')
    [notes] = [d for d in render("--show-only", "templates/notes-check.yaml", *values, chart=copy)]
    text = notes["text"]
    assert "svc/rel-genmedia-grpc 9000" in text and "kubectl -n genmedia get rayservice rel-genmedia" in text
    assert ("WARNING" in text) == (not values), "the local-storage warning shows for the default values only"

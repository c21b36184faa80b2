"""The Kubernetes manifests: parse, known kinds, probes, secrets by reference, one image.

Our own checks always run; kubectl (offline: `kubectl label --local`, no cluster needed) and a
JSON-Schema check against the Kubernetes API (kubernetes-validate, strict: unknown fields fail)
run where those tools are installed and say why when they are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
MANIFEST_FILES = sorted([*K8S.glob("*.yaml"), *K8S.glob("examples/*.yaml")])
KNOWN_KINDS = {
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "Job"),
    ("policy/v1", "PodDisruptionBudget"),
}
SECRET_ENV = {"TIERBOT_DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
              "SLACK_APP_TOKEN", "TIERBOT_INGEST_TOKEN"}  # fmt: skip


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in MANIFEST_FILES:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document is not None:
                found.append((path, document))
    return found


def _one(kind: str) -> dict[str, Any]:
    (document,) = [d for _, d in _documents() if d["kind"] == kind]
    return document


def _containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for _, document in _documents():
        if document["kind"] in ("Deployment", "Job"):
            for container in document["spec"]["template"]["spec"]["containers"]:
                yield document["kind"], container


def test_every_manifest_parses_with_a_known_kind_and_a_name() -> None:
    documents = _documents()
    assert {path.name for path in MANIFEST_FILES} >= {
        "deployment.yaml", "job-migrate.yaml", "service.yaml", "configmap.yaml", "secret.yaml",
    }  # fmt: skip
    for path, document in documents:
        assert (document["apiVersion"], document["kind"]) in KNOWN_KINDS, path
        assert document["metadata"]["name"].startswith("tierbot"), path


def test_the_deployment_runs_two_replicas_with_health_and_readiness_probes() -> None:
    deployment = _one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["command"] == ["tierbot", "serve", "--host", "0.0.0.0", "--port", "3000"]
    assert "initContainers" not in pod  # replicas never migrate on start
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = _one("Service")["spec"]["selector"]
    assert selector.items() <= labels.items()
    names = {volume["configMap"]["name"] for volume in pod["volumes"] if "configMap" in volume}
    assert names == {_one("ConfigMap")["metadata"]["name"]}
    assert "tierbot.yaml" in _one("ConfigMap")["data"]


def test_the_migration_job_runs_tierbot_db_upgrade_once() -> None:
    job = _one("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["tierbot", "db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_secrets_are_only_referenced_and_the_shipped_secret_is_an_example() -> None:
    secret_names = set()
    for _, container in _containers():
        for variable in container.get("env", []):
            if variable["name"] in SECRET_ENV:
                assert "value" not in variable, variable["name"]
                reference = variable["valueFrom"]["secretKeyRef"]
                secret_names.add(reference["name"])
    assert secret_names == {"tierbot-secrets"}
    (path,) = [p for p, d in _documents() if d["kind"] == "Secret"]
    assert path.parent.name == "examples"  # never applied by `kubectl apply -f deploy/k8s/`
    assert all("CHANGE-ME" in value for value in _one("Secret")["stringData"].values())


def test_one_image_everywhere_non_root_read_only_with_resources() -> None:
    images = set()
    for kind, container in _containers():
        images.add(container["image"])
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, kind
        assert security["allowPrivilegeEscalation"] is False, kind
        assert security["runAsNonRoot"] is True, kind
        assert {"requests", "limits"} <= container["resources"].keys(), kind
    assert len(images) == 1
    for kind in ("Deployment", "Job"):
        assert _one(kind)["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_kubectl_reads_every_manifest_offline() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the YAML checks above still ran")
    files = [arg for path in MANIFEST_FILES for arg in ("-f", str(path))]
    done = subprocess.run(
        [kubectl, "label", "--local", *files, "checked=true", "-o", "name"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == len(_documents())


def test_manifests_match_the_kubernetes_api_schema() -> None:
    validator = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed (pip install it)"
    )
    version = validator.latest_version()
    for path, document in _documents():
        try:
            validator.validate(document, version, strict=True)
        except Exception as exc:  # its ValidationError names the field
            pytest.fail(f"{path.name}: {exc}")

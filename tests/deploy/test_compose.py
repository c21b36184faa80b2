"""deploy/compose.yaml: valid for docker compose, PostgreSQL first, then one migration, then two
replicas; the Dockerfile never migrates on start and checks /readyz without curl."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"


def _compose_command() -> list[str] | None:
    """`docker compose` (v2) or `docker-compose` (v1), whichever answers `version`."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for command in candidates:
        probe = subprocess.run(
            [*command, "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return command
    return None


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def test_docker_compose_config_validates() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    done = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True, text=True, timeout=60, check=False, cwd=DEPLOY.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_replicas_wait_for_the_one_shot_migration_which_waits_for_postgres() -> None:
    services = _compose()["services"]
    assert services["postgres"]["healthcheck"]["test"]
    migrate = services["migrate"]
    assert migrate["command"] == ["tierbot", "db", "upgrade"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"
    replicas = [name for name, s in services.items() if "serve" in s.get("command", [])]
    assert len(replicas) == 2
    images = {services[name]["image"] for name in [*replicas, "migrate"]}
    assert len(images) == 1
    for name in replicas:
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"


def test_the_env_example_names_the_database_and_the_slack_tokens() -> None:
    example = (DEPLOY / "tierbot.env.example").read_text(encoding="utf-8")
    for name in ("TIERBOT_DATABASE_URL=", "SLACK_BOT_TOKEN=", "SLACK_SIGNING_SECRET="):
        assert name in example
    assert "xoxb-" not in example.replace("xoxb-...", "")  # placeholders only


def test_the_image_is_non_root_checks_readyz_and_never_migrates_on_start() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    text = "\n".join(instructions)
    assert "pip install -c constraints.txt ." in text
    assert "USER 10001" in text
    assert "HEALTHCHECK" in text and "/readyz" in text and "curl" not in text
    assert 'CMD ["tierbot", "serve", "--host", "0.0.0.0", "--port", "3000"]' in text
    assert "ENTRYPOINT" not in text and "db upgrade" not in text


def test_the_build_context_keeps_secrets_and_local_state_out() -> None:
    ignored = (DEPLOY.parent / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignored  # an allow-list: everything not named below stays out
    assert "!deploy/" not in ignored and "!tests/" not in ignored

"""The format: shipped playbooks validate; any YAML gives a playbook or a clear error."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import app
from bot.playbooks.loader import Catalog, PlaybookError, load_directory, parse_playbook
from bot.playbooks.schema import Playbook, json_schema
from tests.playbooks.conftest import SHIPPED

NAMES = [
    "which-tier-failed",
    "bad-quantization-rollback",
    "cloud-region-outage",
    "residency-violation",
    "stale-edge-config",
]


def test_every_shipped_playbook_validates(shipped: Catalog) -> None:
    assert shipped.errors == []
    assert sorted(shipped.playbooks) == sorted(NAMES)
    assert shipped.playbooks["which-tier-failed"].playbook.handovers() == [
        "bad-quantization-rollback",
        "cloud-region-outage",
        "residency-violation",
        "stale-edge-config",
    ]


def test_errors_name_file_line_and_problem() -> None:
    text = (SHIPPED / "bad-quantization-rollback.yaml").read_text()
    broken = text.replace("    window: 5m\n", "    window: soon\n")
    with pytest.raises(PlaybookError) as caught:
        parse_playbook(broken, "pb.yaml")
    line = broken.splitlines().index("    window: soon") + 1
    assert str(caught.value).startswith(f"pb.yaml:{line}: ")
    assert "not a duration" in str(caught.value)

    dangling = text.replace("next: not_the_build\n", "next: nowhere\n", 1)
    with pytest.raises(PlaybookError) as caught:
        parse_playbook(dangling, "pb.yaml")
    assert "next 'nowhere' is not a step" in str(caught.value)
    go_line = dangling.splitlines().index("  - id: go_no_go") + 1
    assert caught.value.line == go_line

    with pytest.raises(PlaybookError) as caught:
        parse_playbook("name: x\nsteps: [\n", "pb.yaml")
    assert "invalid YAML" in str(caught.value) and caught.value.line is not None

    with pytest.raises(PlaybookError, match="unknown name 'env'"):
        parse_playbook(text.replace("{{ cohort.name }}", "{{ env.HOME }}", 1), "pb.yaml")


def test_a_broken_playbook_never_breaks_the_others(tmp_path: Path) -> None:
    for path in SHIPPED.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "broken.yaml").write_text("name: broken\ntitle: B\nsteps: []\n")
    (tmp_path / "cloud-region-outage.yaml").write_text(":::")
    catalog = load_directory(tmp_path)
    assert sorted(catalog.playbooks) == [
        "bad-quantization-rollback",
        "residency-violation",
        "stale-edge-config",
    ]  # which-tier-failed hands over to the broken cloud playbook, so it is held back too
    problems = "\n".join(str(e) for e in catalog.errors)
    assert "broken.yaml:3: steps" in problems
    assert "cloud-region-outage.yaml" in problems
    assert "hands over to unknown or broken playbook 'cloud-region-outage'" in problems


def test_json_schema_describes_the_format() -> None:
    schema = json_schema()
    assert schema["title"] == "Playbook"
    text = json.dumps(schema)
    for kind in ("manual", "decision", "action", "end"):
        assert f'"{kind}"' in text
    for action in (
        "which_tier",
        "probe",
        "cohort_show",
        "request_rollback",
        "post_message",
        "wait",
    ):
        assert f'"{action}"' in text


def test_cli_schema_validate_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERBOT_PLAYBOOKS__DIRECTORY", str(SHIPPED))
    monkeypatch.setenv("TIERBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    result = runner.invoke(app, ["playbook", "schema"])
    assert result.exit_code == 0 and orjson.loads(result.stdout)["title"] == "Playbook"
    result = runner.invoke(app, ["playbook", "validate"])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == 5
    result = runner.invoke(app, ["playbook", "list", "--json"])
    listed = orjson.loads(result.stdout)
    assert [p["name"] for p in listed["playbooks"]] == sorted(NAMES) and listed["errors"] == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntitle: Bad\nsteps:\n  - id: a\n    title: A\n    kind: teleport\n")
    result = runner.invoke(app, ["playbook", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4:" in result.output and "kind" in result.output
    result = runner.invoke(app, ["playbook", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {"runs": []}


def _check(text: str) -> None:
    try:
        playbook = parse_playbook(text, "fuzz.yaml")
    except PlaybookError as exc:
        assert str(exc).startswith("fuzz.yaml")
        assert exc.problem
    else:
        assert isinstance(playbook, Playbook)


@given(st.text(max_size=400))
def test_any_text_gives_a_playbook_or_a_clear_error(text: str) -> None:
    _check(text)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(allow_nan=False),
    st.sampled_from(["manual", "decision", "action", "end", "wait", "which_tier", "5m", "a", "b"]),
    st.text(max_size=20),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "kind", "title", "next", "action", "text", "answers", "x"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["name", "title", "steps", "version", "x"]), VALUES))
def test_any_yaml_document_gives_a_playbook_or_a_clear_error(document: dict[str, Any]) -> None:
    _check(yaml.safe_dump(document))


_SHIPPED_DATA = {name: yaml.safe_load((SHIPPED / f"{name}.yaml").read_text()) for name in NAMES}


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(
    st.sampled_from(NAMES),
    st.integers(0, 30),
    st.sampled_from(
        ["id", "kind", "next", "action", "answers", "window", "until", "title", "text"]
    ),
    VALUES,
)
def test_mutated_shipped_playbooks_give_a_playbook_or_a_clear_error(
    name: str, index: int, key: str, value: Any
) -> None:
    data = copy.deepcopy(_SHIPPED_DATA[name])
    steps = data["steps"]
    steps[index % len(steps)][key] = value
    _check(yaml.safe_dump(data))

"""`tierbot incident list|show|export` and `tierbot which-tier` on the log, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from bot.activity.service import entries
from bot.db import transaction
from bot.incidents.service import add_note, open_incident
from bot.settings import Settings
from bot.store import Store
from tests.diagnosis.conftest import END
from tests.test_cli import tierbot


def test_list_show_and_export(store: Store, database_url: str, tmp_path: Path) -> None:
    with transaction(store.sessions) as session:
        incident_id = open_incident(
            session=session, title="cloud timeouts", opened_by="U1", now=END, channel="C1"
        ).id
        add_note(
            session=session,
            incident_id=incident_id,
            text="paged the cloud team",
            author="U1",
            now=END,
        )

    listed = tierbot(database_url, "incident", "list", "--json")
    assert listed.returncode == 0, listed.stderr.decode()
    assert [(i["id"], i["title"], i["status"]) for i in json.loads(listed.stdout)] == [
        (incident_id, "cloud timeouts", "open")
    ]
    shown = tierbot(database_url, "incident", "show", str(incident_id), "--json")
    assert [e["kind"] for e in json.loads(shown.stdout)["timeline"]] == [
        "incident.opened",
        "incident.note",
    ]

    exported = tierbot(
        database_url, "incident", "export", str(incident_id), "--out", str(tmp_path / "pm")
    )
    assert exported.returncode == 0, exported.stderr.decode()
    markdown = (tmp_path / "pm" / f"incident-{incident_id}-postmortem.md").read_text()
    assert "## Timeline" in markdown and "paged the cloud team" in markdown

    missing = tierbot(database_url, "incident", "export", "999")
    assert missing.returncode == 1
    assert "There is no incident #999." in missing.stderr.decode()


def test_which_tier_answers_land_on_the_activity_log(
    store: Store, settings: Settings, database_url: str
) -> None:
    answered = tierbot(database_url, "which-tier", "--json", "--end", "2026-11-27T14:00:00Z")
    assert answered.returncode == 0, answered.stderr.decode()
    verdict = json.loads(answered.stdout)["verdict"]
    with store.sessions() as session:
        (entry,) = entries(session=session, kinds=["which_tier.answered"])
    assert entry.data["source"] == "cli" and entry.data["verdict"] == verdict
    assert entry.actor is not None and entry.actor.startswith("cli")

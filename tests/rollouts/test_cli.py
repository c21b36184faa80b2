"""`tierbot rollback ...` as an operator runs it: a real process, JSON out, clear refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bot.store import Store
from tests.rollouts.conftest import BAD, COHORT, DRI, GOOD, REQUESTER


def tierbot(database_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {
        **os.environ,
        "TIERBOT_DATABASE_URL": database_url,
        "COLUMNS": "200",
        "TIERBOT_ROLLOUTS__DRIS__USERS": json.dumps([DRI]),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "rollback", *args],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_request_approve_show_from_the_terminal(seeded: Store, database_url: str) -> None:
    asked = tierbot(
        database_url, "request", COHORT, "--reason", "int8 OOMs", "--as", REQUESTER, "--json"
    )
    assert asked.returncode == 0, asked.stderr.decode()
    request = json.loads(asked.stdout)
    assert (request["from"]["model_id"], request["target_model_id"]) == (BAD, GOOD)

    refused = tierbot(database_url, "approve", str(request["id"]), "--as", REQUESTER)
    assert refused.returncode != 0 and "four eyes" in refused.stderr.decode()

    approved = tierbot(database_url, "approve", str(request["id"]), "--as", DRI, "--json")
    assert approved.returncode == 0, approved.stderr.decode()
    assert json.loads(approved.stdout)["state"] == "executed"

    shown = json.loads(tierbot(database_url, "show", str(request["id"]), "--json").stdout)
    assert [a["kind"] for a in shown["audit"]][:4] == [
        "rollback.requested",
        "rollback.approved",
        "rollback.executing",
        "rollback.executed",
    ]
    listed = json.loads(tierbot(database_url, "list", "--json").stdout)
    assert [r["state"] for r in listed] == ["executed"]

"""`tierbot rollback ...`: the rollback requests from a terminal (the console's way in).

Decisions name the Slack user they are made as (`--as U0123`): DRIs are Slack users, and the
same checks apply as for a button click (a DRI, not the requester, not expired, not decided).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bot.activity.service import entries
from bot.errors import TierbotError
from bot.notifiers import notifiers_for
from bot.probes.service import ProbeRunner
from bot.rollouts.flow import RollbackFlow
from bot.rollouts.requests import RollbackView, get_request, list_requests
from bot.settings import Settings, get_settings
from bot.store import Store, open_store
from bot.timeutil import to_rfc3339

rollback_app = typer.Typer(no_args_is_help=True, help="Rollback requests: ask, decide, follow.")
out = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AsOption = Annotated[str, typer.Option("--as", help="The Slack user id you act as, e.g. U0123.")]


def register(app: typer.Typer) -> None:
    """Add the `rollback` command group to the tierbot CLI."""
    app.add_typer(rollback_app, name="rollback")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        raise TierbotError(f"invalid settings: {exc}") from None


def _flow(store: Store, settings: Settings, *, probes: bool = False) -> RollbackFlow:
    notifiers = notifiers_for(settings)
    runner = ProbeRunner(store, settings.probes, notifiers.probe_alerts) if probes else None
    return RollbackFlow(store, settings, notifiers.rollbacks, probe_runner=runner)


def _print(view: RollbackView, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(view.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    out.print(f"{view.label()}: [bold]{view.state}[/bold]", highlight=False)
    if view.decided_by:
        out.print(f"  decided by {view.decided_by}: {view.decision_reason or '-'}", highlight=False)
    if view.failure:
        out.print(f"  failure: {view.failure}", highlight=False)
    if view.verified is not None:
        out.print(f"  verified: {'recovered' if view.verified else 'NOT recovered'}")


def _run(work: Any) -> Any:
    settings = _settings()
    store = open_store(settings)
    try:
        return work(store, settings)
    finally:
        store.close()


@rollback_app.command("request")
def request_cmd(
    cohort: Annotated[str, typer.Argument(help="The cohort to move back.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    requester: AsOption,
    to: Annotated[str | None, typer.Option("--to", help="Build to go back to.")] = None,
    percent: Annotated[int | None, typer.Option("--percent", help="1-100; staged below.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Ask the DRIs to roll a cohort back (default: to its previous build, at 100%)."""
    view = _run(
        lambda store, settings: _flow(store, settings).request(
            cohort=cohort, target=to, percent=percent, reason=reason, requester=requester
        )
    )
    _print(view, as_json)


@rollback_app.command("approve")
def approve_cmd(request_id: int, approver: AsOption, as_json: JsonOption = False) -> None:
    """Approve as a DRI (never your own request); it executes at once."""
    view = _run(
        lambda store, settings: _flow(store, settings, probes=True).approve(request_id, approver)
    )
    _print(view, as_json)


@rollback_app.command("reject")
def reject_cmd(
    request_id: int,
    rejecter: AsOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    as_json: JsonOption = False,
) -> None:
    """Reject (a DRI) or withdraw (the requester) a request."""
    view = _run(lambda store, settings: _flow(store, settings).reject(request_id, rejecter, reason))
    _print(view, as_json)


@rollback_app.command("killswitch")
def killswitch_cmd(
    build: str,
    requester: AsOption,
    reason: Annotated[str, typer.Option("--reason", help="Why.")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: move every cohort now.")] = False,
) -> None:
    """DRIs only: move every cohort running BUILD back to its previous build now."""
    if not yes:
        raise TierbotError(
            f"the killswitch moves every cohort on {build} now: add --yes to confirm"
        )
    pulled = _run(
        lambda store, settings: _flow(store, settings, probes=True).killswitch(
            build, requester, reason
        )
    )
    for view in pulled.requests:
        _print(view, False)
    for skipped in pulled.skipped:
        out.print(f"skipped {skipped}", highlight=False)


@rollback_app.command("list")
def list_cmd(
    cohort: Annotated[str | None, typer.Option("--cohort", help="Only this cohort.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open requests.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Rollback requests, newest first."""

    def work(store: Store, _: Settings) -> list[RollbackView]:
        with store.sessions() as session:
            return list_requests(session=session, cohort=cohort, open_only=open_only)

    found: list[RollbackView] = _run(work)
    if as_json:
        document = [v.to_dict() for v in found]
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("id", "kind", "cohort", "from -> to", "%", "state", "requester", "decided by")
    for v in found:
        table.add_row(
            str(v.id),
            v.kind,
            v.cohort,
            f"{v.from_model_id} -> {v.target_model_id}",
            str(v.percent),
            v.state,
            v.requester,
            v.decided_by or "-",
        )
    out.print(table)


@rollback_app.command("show")
def show_cmd(request_id: int, as_json: JsonOption = False) -> None:
    """One request and its audit trail."""

    def work(store: Store, _: Settings) -> tuple[RollbackView, list[Any]]:
        with store.sessions() as session:
            view = get_request(session=session, request_id=request_id)
            trail = [
                e
                for e in entries(session=session, kind_prefix=f"{view.kind}.", subject=view.cohort)
                if e.data.get("request_id") == request_id
            ]
            return view, trail

    view, trail = _run(work)
    if as_json:
        document = view.to_dict() | {
            "audit": [
                {
                    "at": to_rfc3339(e.at),
                    "kind": e.kind,
                    "actor": e.actor,
                    "summary": e.summary,
                    "data": e.data,
                }
                for e in trail
            ]
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print(view, False)
    for e in trail:
        out.print(f"  {to_rfc3339(e.at)} {e.kind} ({e.actor}): {e.summary}", highlight=False)


@rollback_app.command("verify")
def verify_cmd(request_id: int, as_json: JsonOption = False) -> None:
    """Probe the target build and judge the cohort now, whatever the verification delay."""
    view = _run(lambda store, settings: _flow(store, settings, probes=True).verify_now(request_id))
    _print(view, as_json)


@rollback_app.command("sweep")
def sweep_cmd() -> None:
    """Do now what the scheduler does: expire, announce, resume and verify what is due."""
    _run(lambda store, settings: _flow(store, settings, probes=True).sweep())
    out.print("swept")

"""Rollbacks in Slack: `/tier rollback`, `/tier rollbacks`, `/tier killswitch`, the Approve and
Reject buttons, the reject-reason modal, and the notifier that posts the approval requests.

Every decision goes through `RollbackFlow`, which checks who may decide against the stored
request at click time; a refusal reaches the clicker ephemerally and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.errors import TierbotError
from bot.rollouts.approvals import describe_dris, require_dri
from bot.rollouts.flow import RollbackFlow
from bot.rollouts.killswitch import cohorts_on
from bot.rollouts.notify import Evidence, Posted
from bot.rollouts.requests import RollbackRefused, RollbackView, get_request, list_requests
from bot.rollouts.settings import DriSet, RolloutSettings
from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError, explain, guarded
from bot.slack.probe_alerts import parse_thread_ref, thread_ref
from bot.slack.subcommands import Invocation, Subcommand
from bot.slack.views import rollbacks as views

log = logging.getLogger(__name__)

ROLLBACK_USAGE = (
    "`/tier rollback COHORT [--to BUILD] [--percent N] REASON`: ask the DRIs to move a cohort "
    "back (default: to its previous build, 100%)"
)
ROLLBACKS_USAGE = "`/tier rollbacks [COHORT]`: recent rollback requests and their state"
KILLSWITCH_USAGE = (
    "`/tier killswitch BUILD [REASON]`: DRIs only: move every cohort on BUILD back now"
)


@dataclass(frozen=True)
class RollbackArgs:
    cohort: str
    target: str | None
    percent: int | None
    reason: str


def parse_rollback(args: Sequence[str]) -> RollbackArgs:
    usage = f"Usage: {ROLLBACK_USAGE}"
    words = list(args)
    if not words or words[0].startswith("--"):
        raise UsageError("`rollback` needs a cohort.", usage)
    cohort, rest = words[0][:200], words[1:]
    target: str | None = None
    percent: int | None = None
    reason: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in ("--to", "--percent"):
            if i + 1 >= len(rest):
                raise UsageError(f"`{word}` needs a value.", usage)
            value = rest[i + 1]
            if word == "--to":
                target = value[:200]
            else:
                try:
                    percent = int(value.rstrip("%"))
                except ValueError:
                    raise UsageError(
                        f"`--percent` takes a whole number (got `{value[:20]}`).", usage
                    ) from None
                if not 1 <= percent <= 100:
                    raise UsageError(f"`--percent` must be 1 to 100 (got {percent}).", usage)
            i += 2
            continue
        reason.append(word)
        i += 1
    if not reason:
        raise UsageError("Say why: `rollback` needs a reason after the cohort.", usage)
    return RollbackArgs(cohort, target, percent, " ".join(reason)[:2000])


def parse_rollbacks(args: Sequence[str]) -> str | None:
    if len(args) > 1:
        raise UsageError("`rollbacks` takes at most a cohort.", f"Usage: {ROLLBACKS_USAGE}")
    return args[0][:200] if args else None


def parse_killswitch(args: Sequence[str]) -> tuple[str, str]:
    if not args:
        raise UsageError("`killswitch` needs a build.", f"Usage: {KILLSWITCH_USAGE}")
    return args[0][:200], " ".join(args[1:])[:1000]


# -- Slack's side of the domain -------------------------------------------------------------
@dataclass
class SlackDirectory:
    """User group members from usergroups.users.list (settings first, for the sandbox/tests)."""

    client: WebClient
    static: dict[str, list[str]] = field(default_factory=dict)
    _cache: dict[str, frozenset[str]] = field(default_factory=dict)

    def usergroup_members(self, usergroup: str) -> frozenset[str]:
        if usergroup not in self._cache:
            members = set(self.static.get(usergroup, ()))
            try:
                response = self.client.usergroups_users_list(usergroup=usergroup)
                members |= {str(u) for u in response.get("users") or []}
            except Exception:  # no scope or no such group: the static members only
                log.warning("usergroups.users.list failed for %s", usergroup, exc_info=True)
            self._cache[usergroup] = frozenset(members)
        return self._cache[usergroup]


@dataclass
class SlackRollbackNotifier:
    """Posts approval requests to the DRI channel and DMs each DRI; keeps them up to date."""

    client: WebClient
    settings: RolloutSettings

    def requested(self, request: RollbackView, evidence: Evidence, dris: DriSet) -> Posted:
        message = views.approval_message(request, evidence, describe_dris(dris))
        channel_ref = None
        if self.settings.dri_channel:
            posted = self.client.chat_postMessage(
                channel=self.settings.dri_channel, **message.to_dict()
            )
            channel_ref = thread_ref(str(posted["channel"]), str(posted["ts"]))
        users = list(dris.users)
        if dris.usergroup:
            directory = SlackDirectory(self.client, dict(self.settings.usergroup_members))
            users += sorted(directory.usergroup_members(dris.usergroup) - set(users))
        dm_refs = []
        for user in users:
            if user == request.requester:
                continue  # they cannot approve it anyway
            try:
                opened = self.client.conversations_open(users=user)
                dm = self.client.chat_postMessage(
                    channel=str(opened["channel"]["id"]), **message.to_dict()
                )
                dm_refs.append(thread_ref(str(dm["channel"]), str(dm["ts"])))
            except Exception:  # one unreachable DRI must not stop the others
                log.warning("could not DM rollback #%s to %s", request.id, user, exc_info=True)
        return Posted(channel_ref, dm_refs)

    def changed(self, request: RollbackView, note: str) -> None:
        refs = [r for r in (request.channel_ref, *request.dm_refs) if parse_thread_ref(r)]
        if request.state != "requested":
            decided = views.decided_message(request).to_dict()
            for ref in refs:
                where = parse_thread_ref(ref)
                assert where is not None
                try:
                    self.client.chat_update(channel=where[0], ts=where[1], **decided)
                except Exception:
                    log.warning("could not update %s for rollback #%s", ref, request.id)
        if refs:
            channel, ts = parse_thread_ref(refs[0]) or ("", "")
            self.client.chat_postMessage(
                channel=channel, thread_ts=ts, **views.note_message(request, note).to_dict()
            )
        elif self.settings.dri_channel:
            self.client.chat_postMessage(
                channel=self.settings.dri_channel, **views.note_message(request, note).to_dict()
            )


def rollback_flow(
    deps: SlackDeps, client: WebClient, *, clock: Callable[[], datetime] | None = None
) -> RollbackFlow:
    """The flow as Slack drives it: Slack's notifier and user groups, the process's probes."""
    settings = deps.settings
    return RollbackFlow(
        deps.store,
        settings,
        SlackRollbackNotifier(client, settings.rollouts),
        probe_runner=deps.probe_runner,
        directory=SlackDirectory(client, dict(settings.rollouts.usergroup_members)),
        clock=clock or deps.clock,
    )


# -- subcommands ----------------------------------------------------------------------------
def _rollback(deps: SlackDeps, asked: Invocation, args: RollbackArgs) -> None:
    flow = rollback_flow(deps, asked.client)
    view = flow.request(
        cohort=args.cohort,
        target=args.target,
        percent=args.percent,
        reason=args.reason,
        requester=asked.user,
    )
    channel = deps.settings.rollouts.dri_channel
    where = f"in <#{channel}> and by DM" if channel else "by DM"
    asked.client.chat_postMessage(
        channel=asked.channel, **views.requested_message(view, where).to_dict()
    )


def _rollbacks(deps: SlackDeps, asked: Invocation, cohort: str | None) -> None:
    with deps.store.sessions() as session:
        found = list_requests(session=session, cohort=cohort, limit=20)
    asked.client.chat_postMessage(channel=asked.channel, **views.list_message(found).to_dict())


def _killswitch(deps: SlackDeps, asked: Invocation, args: tuple[str, str]) -> None:
    build, reason = args
    flow = rollback_flow(deps, asked.client)
    assert flow.directory is not None
    with deps.store.sessions() as session:
        cohorts = cohorts_on(session=session, build=build, now=deps.clock())
    if not cohorts:
        raise RollbackRefused(f"no cohort runs {build} now: nothing to move back.")
    for cohort, tier in cohorts.items():
        require_dri(
            deps.settings.rollouts,
            flow.directory,
            cohort=cohort,
            tier=tier,
            user=asked.user,
            what="pull a killswitch",
        )
    message = views.killswitch_confirm(build, cohorts, reason or f"killswitch on {build}")
    asked.respond(response_type="ephemeral", **message.to_dict())


SUBCOMMANDS = (
    Subcommand("rollback", (ROLLBACK_USAGE,), parse_rollback, _rollback),
    Subcommand("rollbacks", (ROLLBACKS_USAGE,), parse_rollbacks, _rollbacks),
    Subcommand(
        "killswitch", (KILLSWITCH_USAGE,), parse_killswitch, _killswitch, done_when="response_url"
    ),
)


# -- buttons and the modal ------------------------------------------------------------------
def _ack(ack: Ack) -> None:
    ack()


def _request_id(body: dict[str, Any]) -> int:
    try:
        return int(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise TierbotError("this button carries no rollback request.") from None


def register(app: App, deps: SlackDeps) -> None:
    @guarded
    def approve_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        rollback_flow(deps, client).approve(_request_id(body), str(body["user"]["id"]))

    @guarded
    def reject_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        request_id, user = _request_id(body), str(body["user"]["id"])
        flow = rollback_flow(deps, client)
        assert flow.directory is not None
        with deps.store.sessions() as session:
            request = get_request(session=session, request_id=request_id)
        if request.state != "requested":
            raise RollbackRefused(f"request #{request.id} was already {request.state}.")
        if user != request.requester:
            require_dri(
                deps.settings.rollouts,
                flow.directory,
                cohort=request.cohort,
                tier=request.tier,
                user=user,
                what="reject a rollback",
            )
        where = {"channel": str(body.get("channel", {}).get("id", ""))}
        client.views_open(trigger_id=body["trigger_id"], view=views.reject_modal(request, where))

    def reject_submitted(body: dict[str, Any], client: WebClient) -> None:
        user = str(body["user"]["id"])
        meta = orjson.loads(body["view"].get("private_metadata") or "{}")
        values = body["view"]["state"]["values"]
        reason = str(
            values.get(views.REASON_BLOCK, {}).get(views.REASON_ACTION, {}).get("value") or ""
        )
        try:
            rollback_flow(deps, client).reject(int(meta["request_id"]), user, reason)
        except Exception as exc:  # no response_url on a modal: tell them where they clicked
            channel = meta.get("channel") or user
            try:
                client.chat_postEphemeral(channel=channel, user=user, text=explain(exc))
            except Exception:
                log.warning("could not tell %s why the rejection failed", user, exc_info=True)

    @guarded
    def killswitch_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        value = orjson.loads(body["actions"][0]["value"])
        user = str(body["user"]["id"])
        pulled = rollback_flow(deps, client).killswitch(
            str(value["build"]), user, str(value.get("reason") or "")
        )
        done = views.killswitch_done(pulled.build, pulled.requests, pulled.skipped, user)
        respond(replace_original=True, **done.to_dict())
        channel = deps.settings.rollouts.dri_channel or str(body.get("channel", {}).get("id", ""))
        if channel:
            client.chat_postMessage(channel=channel, **done.to_dict())

    app.action(views.APPROVE_ACTION)(ack=_ack, lazy=[approve_clicked])
    app.action(views.REJECT_ACTION)(ack=_ack, lazy=[reject_clicked])
    app.view(views.REJECT_VIEW)(ack=_ack, lazy=[reject_submitted])
    app.action(views.KILLSWITCH_ACTION)(ack=_ack, lazy=[killswitch_clicked])

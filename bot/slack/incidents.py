"""`/tier incident start|role|note|resolve|status|export` and the buttons on the incident card.

The incident lives in a thread under its card (or in a channel of its own when
`incidents.create_channel` is on); role changes, notes and the resolution are posted there and
the card is updated. Every click is re-checked against the stored incident, so a double click
changes nothing twice and a click on a resolved incident is told so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.errors import TierbotError
from bot.incidents import service
from bot.incidents.export import build_postmortem
from bot.incidents.service import IncidentView
from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError, guarded
from bot.slack.subcommands import Invocation, Subcommand
from bot.slack.views import incidents as views
from bot.slack.views.common import Message, ephemeral

log = logging.getLogger(__name__)

USAGE = (
    "`/tier incident start TITLE`: open an incident (roles by buttons), in a thread or its "
    "own channel",
    "`/tier incident role [#ID] commander|dri|scribe [@user|me|nobody]`: give a role",
    "`/tier incident note [#ID] TEXT`: add a note to the timeline",
    "`/tier incident resolve [#ID] [SUMMARY]`: resolve it (the card offers the postmortem)",
    "`/tier incident status`: open incidents and their roles",
    "`/tier incident export [#ID]`: upload the postmortem draft (Markdown and chart)",
)
_USAGE_TEXT = "Usage:\n" + "\n".join(f"• {line}" for line in USAGE)
VERBS = ("start", "role", "note", "resolve", "status", "export")
_ID = re.compile(r"^#?(\d{1,9})$")
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class IncidentArgs:
    verb: str
    incident_id: int | None = None
    text: str = ""
    role: str | None = None
    user: str | None = None  # for `role`: "me" until the asker is known; "" clears the role


def _user(word: str) -> str:
    if word.lower() == "me":
        return "me"
    if word.lower() in ("nobody", "none"):
        return ""
    match = _MENTION.match(word)
    if match:
        return match.group(1)
    if _USER_ID.match(word):
        return word
    raise UsageError(
        f"`{word[:40]}` is not a person I can tell: mention them (`@name` picked from the list) "
        "or say `me`.",
        _USAGE_TEXT,
    )


def parse(args: Sequence[str]) -> IncidentArgs:
    """The words after `/tier incident`; UsageError says what was wrong."""
    if not args:
        raise UsageError("`incident` needs what to do.", _USAGE_TEXT)
    verb, rest = args[0].lower(), list(args[1:])
    if verb not in VERBS:
        raise UsageError(f"I don't know `/tier incident {verb[:40]}`.", _USAGE_TEXT)
    incident_id = None
    if verb not in ("start", "status") and rest and _ID.match(rest[0]) and rest[0].startswith("#"):
        incident_id = int(rest.pop(0).lstrip("#"))
    text = " ".join(rest)
    if verb == "start":
        if not text:
            raise UsageError("`incident start` needs a title.", _USAGE_TEXT)
        return IncidentArgs(verb, text=text[: service.MAX_TITLE])
    if verb == "status" and rest:
        raise UsageError("`incident status` takes no arguments.", _USAGE_TEXT)
    if verb == "note" and not text:
        raise UsageError("`incident note` needs the text of the note.", _USAGE_TEXT)
    if verb == "export" and rest:
        raise UsageError("`incident export` takes at most an incident number.", _USAGE_TEXT)
    if verb == "role":
        if not rest or len(rest) > 2:
            raise UsageError("`incident role` needs a role and at most one person.", _USAGE_TEXT)
        try:
            role = service.parse_role(rest[0])
        except TierbotError as exc:
            raise UsageError(str(exc), _USAGE_TEXT) from None
        return IncidentArgs(
            verb, incident_id, role=role, user=_user(rest[1]) if len(rest) > 1 else "me"
        )
    return IncidentArgs(verb, incident_id, text=text)


def _target(session: Session, incident_id: int | None, channel: str) -> IncidentView:
    """The named incident, else this channel's, else the only open one."""
    if incident_id is not None:
        return service.get_incident(session=session, incident_id=incident_id)
    here = service.incident_for_channel(session=session, channel=channel)
    if here is not None:
        return here
    open_now = service.open_incidents(session=session)
    if len(open_now) == 1:
        return open_now[0]
    if not open_now:
        raise TierbotError("There is no open incident. Open one with `/tier incident start TITLE`.")
    numbers = ", ".join(f"#{view.id}" for view in open_now)
    raise TierbotError(
        f"Several incidents are open ({numbers}): say which, e.g. `#{open_now[0].id}`."
    )


def _post(client: WebClient, view: IncidentView, message: Message, fallback: str) -> str:
    """Post in the incident's thread (or its channel)."""
    response = client.chat_postMessage(
        channel=view.channel or fallback, thread_ts=view.thread_ts, **message.to_dict()
    )
    return str(response["ts"])


def _refresh_card(client: WebClient, view: IncidentView) -> None:
    """Show the incident's roles and state on its card; a failure here only logs."""
    if not (view.channel and view.thread_ts):
        return
    try:
        client.chat_update(
            channel=view.channel, ts=view.thread_ts, **views.incident_message(view).to_dict()
        )
    except SlackApiError:
        log.warning("could not update the card of incident %s", view.id, exc_info=True)


def _channel_name(prefix: str, view: IncidentView) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", view.title.lower()).strip("-")
    return f"{prefix}{view.id}-{slug}"[:80].rstrip("-")


def _create_channel(client: WebClient, name: str) -> str:
    for attempt in range(5):
        candidate = name if attempt == 0 else f"{name[:76]}-{attempt + 1}"
        try:
            return str(client.conversations_create(name=candidate)["channel"]["id"])
        except SlackApiError as exc:
            if exc.response.get("error") != "name_taken":
                raise
    raise TierbotError(f"Channel names like `{name}` are all taken; rename some and try again.")


def start(deps: SlackDeps, client: WebClient, channel: str, user: str, title: str) -> IncidentView:
    """Open the incident, then give it a card (and a channel when the setting says so)."""
    with transaction(deps.store.sessions) as session:
        view = service.open_incident(
            session=session, title=title, opened_by=user, now=deps.clock(), channel=channel
        )
    home = channel
    if deps.settings.incidents.create_channel:
        home = _create_channel(client, _channel_name(deps.settings.incidents.channel_prefix, view))
        try:
            client.conversations_invite(channel=home, users=user)
        except SlackApiError as exc:  # the bot itself, or already there: nothing to do
            if exc.response.get("error") not in ("cant_invite_self", "already_in_channel"):
                raise
    ts = str(client.chat_postMessage(channel=home, **views.incident_message(view).to_dict())["ts"])
    with transaction(deps.store.sessions) as session:
        if home != channel:
            service.set_own_channel(session=session, incident_id=view.id, channel=home)
        service.set_thread(session=session, incident_id=view.id, channel=home, thread_ts=ts)
        view = service.get_incident(session=session, incident_id=view.id)
    if home != channel:
        client.chat_postMessage(channel=channel, **views.moved_message(view, home).to_dict())
    return view


def set_role(
    deps: SlackDeps,
    client: WebClient,
    respond: Respond,
    args: IncidentArgs,
    channel: str,
    actor: str,
) -> IncidentView | None:
    user = actor if args.user == "me" else (args.user or None)
    assert args.role is not None
    with transaction(deps.store.sessions) as session:
        target = _target(session, args.incident_id, channel)
        change = service.set_role(
            session=session,
            incident_id=target.id,
            role=args.role,
            user=user,
            actor=actor,
            now=deps.clock(),
        )
    if not change.changed:
        who = f"<@{user}>" if user else "Nobody"
        label = service.ROLE_LABELS[change.role]
        respond(**ephemeral(f"{who} already is {label} of incident #{target.id}.").to_dict())
        return None
    _refresh_card(client, change.incident)
    _post(client, change.incident, views.role_message(change, actor), channel)
    return change.incident


def note(
    deps: SlackDeps, client: WebClient, args: IncidentArgs, channel: str, author: str
) -> IncidentView:
    with transaction(deps.store.sessions) as session:
        target = _target(session, args.incident_id, channel)
        service.add_note(
            session=session, incident_id=target.id, text=args.text, author=author, now=deps.clock()
        )
    _post(client, target, views.note_message(target, author, args.text), channel)
    return target


def resolve(
    deps: SlackDeps,
    client: WebClient,
    incident_id: int | None,
    channel: str,
    user: str,
    summary: str,
) -> IncidentView:
    with transaction(deps.store.sessions) as session:
        target = _target(session, incident_id, channel)
        view = service.resolve_incident(
            session=session,
            incident_id=target.id,
            resolved_by=user,
            now=deps.clock(),
            summary=summary or None,
        )
    _refresh_card(client, view)
    _post(client, view, views.resolved_message(view), channel)
    return view


def export(
    deps: SlackDeps, client: WebClient, incident_id: int | None, channel: str
) -> IncidentView:
    """Upload the postmortem draft and its chart into the incident's thread."""
    with deps.store.sessions() as session:
        target = _target(session, incident_id, channel)
        draft = build_postmortem(
            session=session,
            incident_id=target.id,
            budgets=deps.settings.budgets,
            settings=deps.settings.incidents,
            now=deps.clock(),
        )
    uploads: list[dict[str, Any]] = [
        {
            "content": draft.markdown,
            "filename": draft.filename,
            "title": f"Postmortem draft: incident #{target.id}",
        }
    ]
    if draft.chart_png:
        uploads.append(
            {
                "file": draft.chart_png,
                "filename": draft.chart_filename,
                "title": "Error rate and p95 per tier",
            }
        )
    client.files_upload_v2(
        file_uploads=uploads, channel=target.channel or channel, thread_ts=target.thread_ts
    )
    _post(
        client, target, views.exported_message(target, draft.filename, len(draft.entries)), channel
    )
    return target


def _status(deps: SlackDeps, client: WebClient, channel: str) -> None:
    with deps.store.sessions() as session:
        open_now = service.open_incidents(session=session)
    client.chat_postMessage(
        channel=channel, **views.status_message(open_now, deps.clock()).to_dict()
    )


def _run(deps: SlackDeps, asked: Invocation, args: IncidentArgs) -> None:
    client, channel, user = asked.client, asked.channel, asked.user
    done: IncidentView | None = None
    if args.verb == "start":
        start(deps, client, channel, user, args.text)
    elif args.verb == "role":
        done = set_role(deps, client, asked.respond, args, channel, user)
    elif args.verb == "note":
        done = note(deps, client, args, channel, user)
    elif args.verb == "resolve":
        done = resolve(deps, client, args.incident_id, channel, user, args.text)
    elif args.verb == "export":
        done = export(deps, client, args.incident_id, channel)
    else:
        _status(deps, client, channel)
    if done is not None and done.channel and done.channel != channel:  # say where it went
        where = f"Done: incident #{done.id} is in <#{done.channel}>."
        asked.respond(**ephemeral(where).to_dict(), replace_original=False)


SUBCOMMANDS = (Subcommand("incident", USAGE, parse, _run),)


def _ack(ack: Ack) -> None:
    ack()


def _clicked(body: dict[str, Any]) -> tuple[int, str, str]:
    """The incident id (from the button), who clicked, and where."""
    try:
        incident_id = int(body["actions"][0]["value"])
    except (KeyError, ValueError):
        raise TierbotError("This button does not name an incident.") from None
    return incident_id, str(body["user"]["id"]), str(body["channel"]["id"])


def register(app: App, deps: SlackDeps) -> None:
    @guarded
    def role_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        incident_id, user, channel = _clicked(body)
        role = str(body["actions"][0]["action_id"]).removeprefix(f"{views.ROLE_ACTION}_")
        args = IncidentArgs("role", incident_id, role=role, user="me")
        set_role(deps, client, respond, args, channel, user)

    @guarded
    def resolve_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        incident_id, user, channel = _clicked(body)
        resolve(deps, client, incident_id, channel, user, "")

    @guarded
    def export_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        incident_id, _, channel = _clicked(body)
        export(deps, client, incident_id, channel)

    roles = "|".join(service.ROLES)
    app.action(re.compile(rf"^{views.ROLE_ACTION}_({roles})$"))(ack=_ack, lazy=[role_clicked])
    app.action(views.RESOLVE_ACTION)(ack=_ack, lazy=[resolve_clicked])
    app.action(views.EXPORT_ACTION)(ack=_ack, lazy=[export_clicked])

"""The playbook format: pydantic models that validate a YAML playbook and give its JSON Schema.

A playbook is a list of steps. Each step names the one after it (`next`, default: the step
below it); a decision names one per answer. `next: playbook:NAME` hands the run over to another
playbook in the same thread. Texts are templates (`bot.playbooks.templates`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.playbooks.templates import check_condition, check_template
from bot.timeutil import parse_duration

HANDOVER = "playbook:"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
StepId = Annotated[str, Field(pattern=ID_PATTERN, description="Unique within the playbook.")]
Next = Annotated[
    str,
    Field(
        max_length=80,
        description="A step id, or `playbook:NAME` to hand over to another playbook.",
    ),
]


def duration(value: str) -> timedelta:
    """A duration as the CLI takes it (`90s`, `5m`, `1h`); raises ValueError."""
    parsed = parse_duration(value)
    if parsed <= timedelta(0):
        raise ValueError(f"duration {value!r} must be positive")
    return parsed


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Step(_Model):
    id: StepId
    title: str = Field(min_length=1, max_length=150, description="Shown as the step's heading.")

    def texts(self) -> dict[str, str]:
        """The templates this step renders, by field name (checked at validation)."""
        return {}

    def conditions(self) -> dict[str, str]:
        return {}

    def targets(self) -> list[str]:
        """Every `next` this step may take."""
        return []


class ManualStep(_Step):
    """A person does something and presses Done (or Skip)."""

    kind: Literal["manual"]
    text: str = Field(max_length=2900, description="Instructions (Slack mrkdwn, a template).")
    checklist: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=20, description="Items to tick off, shown as a list."
    )
    skippable: bool = Field(default=True, description="Offer a Skip button.")
    next: Next | None = None

    def texts(self) -> dict[str, str]:
        return {"text": self.text} | {f"checklist[{i}]": c for i, c in enumerate(self.checklist)}

    def targets(self) -> list[str]:
        return [self.next] if self.next else []


class Answer(_Model):
    id: StepId
    label: str = Field(min_length=1, max_length=75, description="The button's text.")
    next: Next
    style: Literal["primary", "danger"] | None = None


class AutoRule(_Model):
    """Pick `answer` without asking when `when` holds on the run's context."""

    when: str = Field(min_length=1, max_length=500, description="A condition, e.g. `a.b == 'x'`.")
    answer: str


class DecisionStep(_Step):
    """A question with one button per answer; `auto` rules may answer it from the context."""

    kind: Literal["decision"]
    question: str = Field(max_length=2900, description="The question (mrkdwn, a template).")
    answers: list[Answer] = Field(min_length=1, max_length=5)
    auto: list[AutoRule] = Field(
        default_factory=list, max_length=10, description="Tried in order; the first that holds."
    )

    @model_validator(mode="after")
    def _answers_known(self) -> DecisionStep:
        ids = [a.id for a in self.answers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"decision {self.id!r} has two answers with the same id")
        for rule in self.auto:
            if rule.answer not in ids:
                raise ValueError(f"auto rule picks {rule.answer!r}, not an answer of {self.id!r}")
        return self

    def texts(self) -> dict[str, str]:
        return {"question": self.question}

    def conditions(self) -> dict[str, str]:
        return {f"auto[{i}].when": r.when for i, r in enumerate(self.auto)}

    def targets(self) -> list[str]:
        return [a.next for a in self.answers]


class _Action(_Step):
    kind: Literal["action"]
    text: str | None = Field(default=None, max_length=2900, description="Shown above the result.")
    next: Next | None = None

    def texts(self) -> dict[str, str]:
        return {"text": self.text} if self.text else {}

    def targets(self) -> list[str]:
        return [self.next] if self.next else []


class WhichTierAction(_Action):
    """Run the which-tier diagnosis; its report becomes `report` in the context."""

    action: Literal["which_tier"]
    window: str = Field(default="30m", description="The window judged.")
    baseline: str = Field(default="24h", description="The baseline before it.")

    @field_validator("window", "baseline")
    @classmethod
    def _duration(cls, value: str) -> str:
        duration(value)
        return value


class ProbeAction(_Action):
    """Probe the tiers now; the summary becomes `probe` in the context."""

    action: Literal["probe"]
    tier: Literal["edge", "cloud", "all"] = "all"


class CohortShowAction(_Action):
    """Look up which build a cohort runs; the result becomes `cohort` in the context."""

    action: Literal["cohort_show"]
    cohort: str = Field(min_length=1, max_length=300, description="A template, e.g. a suspect's.")

    def texts(self) -> dict[str, str]:
        return super().texts() | {"cohort": self.cohort}


class RequestRollbackAction(_Action):
    """Open a rollback request (it still needs a DRI's approval); it becomes `rollback`."""

    action: Literal["request_rollback"]
    cohort: str = Field(min_length=1, max_length=300, description="Template.")
    target: str | None = Field(default=None, max_length=300, description="Build; default: prior.")
    percent: int | None = Field(default=None, ge=1, le=100, description="Staged rollback.")
    reason: str = Field(min_length=1, max_length=1000, description="Template.")

    def texts(self) -> dict[str, str]:
        extra = {"cohort": self.cohort, "reason": self.reason}
        return super().texts() | extra | ({"target": self.target} if self.target else {})


class PostMessageAction(_Action):
    """Say something in the run's thread (a status update, a hand-off note)."""

    action: Literal["post_message"]
    message: str = Field(min_length=1, max_length=2900, description="mrkdwn, a template.")

    def texts(self) -> dict[str, str]:
        return super().texts() | {"message": self.message}


class WaitAction(_Action):
    """Pause for `duration`, or until `until` holds (checked every `poll`), up to `timeout`."""

    action: Literal["wait"]
    duration: str | None = Field(default=None, description="Continue after this long.")
    until: str | None = Field(default=None, max_length=500, description="Continue when it holds.")
    poll: str = Field(default="15s", description="How often `until` is re-checked.")
    timeout: str | None = Field(default=None, description="Give up waiting after this long.")
    on_timeout: Next | None = Field(default=None, description="Where to go on timeout.")

    @field_validator("duration", "poll", "timeout")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            duration(value)
        return value

    @model_validator(mode="after")
    def _something_to_wait_for(self) -> WaitAction:
        if self.duration is None and self.until is None:
            raise ValueError(f"wait step {self.id!r} needs a `duration` or an `until`")
        if self.on_timeout is not None and self.timeout is None:
            raise ValueError(f"wait step {self.id!r} has `on_timeout` but no `timeout`")
        return self

    def conditions(self) -> dict[str, str]:
        return {"until": self.until} if self.until else {}

    def targets(self) -> list[str]:
        return super().targets() + ([self.on_timeout] if self.on_timeout else [])


class EndStep(_Step):
    """The run is over; `text` sums it up."""

    kind: Literal["end"]
    text: str | None = Field(default=None, max_length=2900)
    outcome: str = Field(default="done", max_length=100, description="Recorded on the run.")

    def texts(self) -> dict[str, str]:
        return {"text": self.text} if self.text else {}


ActionStep = Annotated[
    WhichTierAction
    | ProbeAction
    | CohortShowAction
    | RequestRollbackAction
    | PostMessageAction
    | WaitAction,
    Field(discriminator="action"),
]
Step = Annotated[ManualStep | DecisionStep | ActionStep | EndStep, Field(discriminator="kind")]
AnyStep = (
    ManualStep
    | DecisionStep
    | WhichTierAction
    | ProbeAction
    | CohortShowAction
    | RequestRollbackAction
    | PostMessageAction
    | WaitAction
    | EndStep
)


class Playbook(_Model):
    """One playbook file."""

    name: str = Field(pattern=NAME_PATTERN, description="How `/tier playbook run NAME` calls it.")
    title: str = Field(min_length=1, max_length=150)
    description: str = Field(default="", max_length=2000, description="When to use it.")
    version: int = Field(default=1, ge=1, description="Bump when you change the steps.")
    tags: list[str] = Field(default_factory=list, max_length=20)
    steps: list[Step] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> Playbook:
        ids = [s.id for s in self.steps]
        problems: list[str] = []
        seen: set[str] = set()
        for step_id in ids:
            if step_id in seen:
                problems.append(f"two steps have the id {step_id!r}")
            seen.add(step_id)
        for index, step in enumerate(self.steps):
            where = f"step {step.id!r}"
            for target in step.targets():
                if not target.startswith(HANDOVER) and target not in seen:
                    problems.append(f"{where}: next {target!r} is not a step of this playbook")
                if target.startswith(HANDOVER) and not _is_name(target[len(HANDOVER) :]):
                    problems.append(f"{where}: {target!r} does not name a playbook")
            last = index == len(self.steps) - 1
            if last and step.kind not in ("end", "decision") and not getattr(step, "next", None):
                problems.append(f"{where} is the last step: give it a `next` or make it `end`")
            for field, text in step.texts().items():
                problems += check_template(text, f"{where} {field}")
            for field, text in step.conditions().items():
                problems += check_condition(text, f"{where} {field}")
        if not any(s.kind == "end" for s in self.steps) and not any(
            t.startswith(HANDOVER) for s in self.steps for t in s.targets()
        ):
            problems.append("no step ends the run: add a step of kind `end` (or a handover)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def step(self, step_id: str) -> AnyStep:
        """The step with this id (a validated playbook has it)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def after(self, step_id: str) -> str | None:
        """The step below `step_id` (the default `next`)."""
        ids = [s.id for s in self.steps]
        index = ids.index(step_id)
        return ids[index + 1] if index + 1 < len(ids) else None

    def handovers(self) -> list[str]:
        return sorted(
            {t[len(HANDOVER) :] for s in self.steps for t in s.targets() if t.startswith(HANDOVER)}
        )


def _is_name(text: str) -> bool:
    import re

    return re.match(NAME_PATTERN, text) is not None


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to check and complete playbook files."""
    schema = Playbook.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://tierbot.dev/schemas/playbook.schema.json"
    return schema

"""The playbook template language: `{{ dotted.path | filter }}` and tiny conditions.

Deliberately small so a playbook can never run code: dotted lookups into the run's context,
literals, `==`, `!=`, `in`, `not in`, `and`, `or`, `not`, parentheses, and a handful of filters.
Rendering never raises: an unknown path shows as a visible placeholder, a condition treats it as
null. `check_template` / `check_condition` find syntax errors and unknown roots at validation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ROOTS = frozenset(
    {
        "run",
        "input",
        "incident",
        "answers",
        "report",
        "probe",
        "cohort",
        "rollback",
        "steps",
        "last_actor",
    }
)
"""The context's top-level names; `bot.playbooks.runner` fills them."""

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PATH = re.compile(r"^[A-Za-z_][\w-]*(?:\.[\w-]+)*$")
_FILTER = re.compile(r"^(\w+)\s*(?:\(\s*(.*?)\s*\))?$", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"[^"\\]*"|'[^'\\]*')
      | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<op>==|!=|\(|\)|\[|\]|,)
      | (?P<name>[A-Za-z_][\w-]*(?:\.[\w-]+)*)
    )""",
    re.VERBOSE,
)
FILTERS = ("default", "pct", "mention", "join", "upper", "lower")
MAX_EXPRESSION = 500
UNKNOWN = "[unknown: "
"""How a rendered text shows what it could not fill (actions refuse to act on it)."""


class TemplateError(ValueError):
    """A template or condition that cannot be understood; the message says where."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at `a.b.0.c`, or MISSING; list items are reached by index."""
    current: Any = context
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, Sequence) and not isinstance(current, str) and part.isdigit():
            index = int(part)
            if index >= len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


@dataclass(frozen=True)
class _PathArg:
    path: str


def _literal(text: str) -> Any:
    """A filter argument: a quoted string, a number, or a dotted path (nothing else)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if _PATH.match(text):
        return _PathArg(text)
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise TemplateError(
            f"filter argument {text!r} must be a quoted string, a number or a dotted path"
        ) from None


@dataclass(frozen=True)
class _Expr:
    path: str
    filters: tuple[tuple[str, Any], ...]


def _parse_tag(inner: str) -> _Expr:
    parts = [p.strip() for p in inner.split("|")]
    if not _PATH.match(parts[0]):
        raise TemplateError(f"`{{{{{inner}}}}}`: {parts[0]!r} is not a dotted path")
    filters: list[tuple[str, Any]] = []
    for part in parts[1:]:
        match = _FILTER.match(part)
        if match is None or match.group(1) not in FILTERS:
            raise TemplateError(
                f"`{{{{{inner}}}}}`: unknown filter {part!r} (known: {', '.join(FILTERS)})"
            )
        arg = match.group(2)
        filters.append((match.group(1), _literal(arg) if arg else None))
    return _Expr(parts[0], tuple(filters))


def _text(value: Any) -> str:
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _apply(name: str, arg: Any, value: Any) -> Any:
    if name == "default":
        return arg if value is MISSING or value is None or value == "" else value
    if value is MISSING:
        return value
    if name == "pct":
        return f"{value:.2%}" if isinstance(value, int | float) else value
    if name == "mention":
        text = _text(value)
        return f"<@{text}>" if re.fullmatch(r"[UW][A-Z0-9]+", text) else text
    if name == "join":
        sep = arg if isinstance(arg, str) else ", "
        return sep.join(_text(v) for v in value) if isinstance(value, list) else value
    if name == "upper":
        return _text(value).upper()
    return _text(value).lower()


def render(template: str, context: Mapping[str, Any]) -> str:
    """Fill `{{ ... }}` from the context; never raises (problems show in the text)."""

    def one(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        try:
            expr = _parse_tag(inner)
        except TemplateError:
            return f"{UNKNOWN}bad template {inner[:60]}]"
        value = lookup(context, expr.path)
        for name, arg in expr.filters:
            if isinstance(arg, _PathArg):
                arg = lookup(context, arg.path)
            try:
                value = _apply(name, arg, value)
            except (TypeError, ValueError):
                value = f"{UNKNOWN}{expr.path} ({name} failed)]"
        return f"{UNKNOWN}{expr.path}]" if value is MISSING else _text(value)

    return _TAG.sub(one, template)


def template_paths(template: str) -> list[str]:
    """The paths a template reads; raises TemplateError on a malformed tag."""
    if template.count("{{") != template.count("}}"):
        raise TemplateError("unbalanced `{{` and `}}`")
    paths = []
    for match in _TAG.finditer(template):
        expr = _parse_tag(match.group(1).strip())
        paths.append(expr.path)
        paths += [arg.path for _, arg in expr.filters if isinstance(arg, _PathArg)]
    return paths


def _check_roots(paths: list[str], where: str) -> list[str]:
    return [
        f"{where}: unknown name {p.split('.')[0]!r} (known: {', '.join(sorted(ROOTS))})"
        for p in paths
        if p.split(".")[0] not in ROOTS
    ]


def check_template(template: str, where: str = "template") -> list[str]:
    """Problems with a template (syntax, unknown roots), as messages; empty when fine."""
    try:
        return _check_roots(template_paths(template), where)
    except TemplateError as exc:
        return [f"{where}: {exc}"]


# --- conditions -----------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_EXPRESSION:
        raise TemplateError(f"condition longer than {MAX_EXPRESSION} characters")
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise TemplateError(f"cannot read condition at {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", "none"}


class _Parser:
    """Recursive descent over the tokens, building nested tuples (no eval anywhere)."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise TemplateError("condition ends too early")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Any:
        node = self.or_()
        if self.pos != len(self.tokens):
            raise TemplateError(f"unexpected {self.peek()!r} in condition")
        return node

    def or_(self) -> Any:
        node = self.and_()
        while self.peek() == "or":
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Any:
        node = self.not_()
        while self.peek() == "and":
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Any:
        if self.peek() == "not":
            self.take()
            return ("not", self.not_())
        return self.compare()

    def compare(self) -> Any:
        left = self.atom()
        op = self.peek()
        if op in ("==", "!=", "in"):
            self.take()
            return (op, left, self.atom())
        if op == "not" and self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1][1] == "in":
            self.pos += 2
            return ("not", ("in", left, self.atom()))
        return left

    def atom(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return ("lit", text[1:-1])
        if kind == "num":
            return ("lit", float(text) if "." in text else int(text))
        if text == "(":
            node = self.or_()
            if self.take()[1] != ")":
                raise TemplateError("missing `)` in condition")
            return node
        if text == "[":
            items = []
            while self.peek() != "]":
                items.append(self.atom())
                if self.peek() == ",":
                    self.take()
                elif self.peek() != "]":
                    raise TemplateError("a list needs `,` between items and a closing `]`")
            self.take()
            return ("list", tuple(items))
        if kind == "name":
            lowered = text.lower()
            if lowered in ("true", "false"):
                return ("lit", lowered == "true")
            if lowered in ("null", "none"):
                return ("lit", None)
            if lowered in _KEYWORDS:
                raise TemplateError(f"`{text}` cannot stand here")
            return ("path", text)
        raise TemplateError(f"unexpected {text!r} in condition")


def parse_condition(text: str) -> Any:
    """The parsed condition; raises TemplateError."""
    try:
        return _Parser(_tokens(text)).parse()
    except RecursionError:
        raise TemplateError("condition nested too deeply") from None


def _paths(node: Any) -> list[str]:
    if node[0] == "path":
        return [node[1]]
    if node[0] == "lit":
        return []
    if node[0] == "list":
        return [p for item in node[1] for p in _paths(item)]
    return [p for child in node[1:] for p in _paths(child)]


def check_condition(text: str, where: str = "condition") -> list[str]:
    try:
        return _check_roots(_paths(parse_condition(text)), where)
    except TemplateError as exc:
        return [f"{where}: {exc}"]


def _value(node: Any, context: Mapping[str, Any]) -> Any:
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "path":
        found = lookup(context, node[1])
        return None if found is MISSING else found
    if op == "list":
        return [_value(item, context) for item in node[1]]
    if op == "not":
        return not _value(node[1], context)
    if op == "and":
        return bool(_value(node[1], context)) and bool(_value(node[2], context))
    if op == "or":
        return bool(_value(node[1], context)) or bool(_value(node[2], context))
    left, right = _value(node[1], context), _value(node[2], context)
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if isinstance(right, str):
        return isinstance(left, str) and left in right
    if isinstance(right, list | tuple | dict):
        try:
            return left in right
        except TypeError:
            return False
    return False


def evaluate(text: str, context: Mapping[str, Any]) -> bool:
    """Whether the condition holds; a malformed one is False (validation reports it earlier)."""
    try:
        return bool(_value(parse_condition(text), context))
    except TemplateError:
        return False

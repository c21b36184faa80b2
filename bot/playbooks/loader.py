"""Read playbook files: YAML in, a validated `Playbook` or an error naming file, line and problem.

Each file is loaded on its own, so one broken playbook never hides the others. The version a run
freezes is the author's `version` plus a hash of the parsed content: editing a file without
bumping `version` still gives running runs and new runs different versions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from bot.errors import TierbotError
from bot.playbooks.schema import Playbook

MAX_FILE_BYTES = 256 * 1024


class PlaybookError(TierbotError):
    """A playbook file that cannot be used; `str()` reads `file:line: what is wrong`."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = path, line, problem


@dataclass(frozen=True)
class LoadedPlaybook:
    playbook: Playbook
    path: str
    version: str  # "v{version}-{hash}": what a run freezes

    @property
    def name(self) -> str:
        return self.playbook.name


@dataclass
class Catalog:
    """Every playbook of a directory that loaded, and the errors of those that did not."""

    playbooks: dict[str, LoadedPlaybook] = field(default_factory=dict)
    errors: list[PlaybookError] = field(default_factory=list)

    def get(self, name: str) -> LoadedPlaybook:
        if name in self.playbooks:
            return self.playbooks[name]
        broken = [e for e in self.errors if Path(e.path).stem == name]
        if broken:
            raise TierbotError(f"playbook {name!r} is broken: {broken[0]}")
        known = ", ".join(sorted(self.playbooks)) or "none"
        raise TierbotError(f"no playbook named {name!r} (known: {known})")


def content_version(playbook: Playbook) -> str:
    canonical = orjson.dumps(playbook.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return f"v{playbook.version}-{hashlib.sha256(canonical).hexdigest()[:10]}"


def _node_line(node: yaml.Node, loc: Sequence[int | str]) -> int:
    """The 1-based line of the YAML node a pydantic error location points at (best effort)."""
    line = node.start_mark.line + 1
    for index, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part]
            last = index == len(loc) - 1
            if not match or (isinstance(match[0], yaml.ScalarNode) and not last):
                continue  # a union tag in the location (`action`, `which_tier`), not a key
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _step_line(node: yaml.Node, problem: str) -> int | None:
    """The line of the step a playbook-wide problem names (`step 'id': ...`)."""
    match = re.search(r"step '([^']+)'", problem)
    if match is None or not isinstance(node, yaml.MappingNode):
        return None
    steps = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "steps"]
    if not steps or not isinstance(steps[0], yaml.SequenceNode):
        return None
    for item in steps[0].value:
        if isinstance(item, yaml.MappingNode) and any(
            isinstance(k, yaml.ScalarNode)
            and k.value == "id"
            and getattr(v, "value", None) == match.group(1)
            for k, v in item.value
        ):
            return int(item.start_mark.line) + 1
    return None


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message


def parse_playbook(text: str, path: str = "<playbook>") -> Playbook:
    """Validate one playbook's YAML text; raises PlaybookError (never anything else)."""
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise PlaybookError(path, None, f"file larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = f"invalid YAML: {exc.problem or exc.context or 'unreadable'}"
        raise PlaybookError(path, mark.line + 1 if mark else None, problem) from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise PlaybookError(path, None, f"invalid YAML: {type(exc).__name__}") from None
    if not isinstance(data, dict) or node is None:
        kind = "empty" if data is None else type(data).__name__
        raise PlaybookError(
            path, 1, f"a playbook is a YAML mapping (name, title, steps), not {kind}"
        )
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        line = _node_line(node, first["loc"])
        if not first["loc"]:
            line = _step_line(node, str(first["msg"])) or line
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise PlaybookError(path, line, _describe(first) + more) from None
    except (RecursionError, TypeError) as exc:
        raise PlaybookError(path, None, f"cannot validate: {type(exc).__name__}") from None


def load_file(path: Path) -> LoadedPlaybook:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(str(path), None, f"cannot read: {exc}") from None
    playbook = parse_playbook(text, str(path))
    if playbook.name != path.stem:
        raise PlaybookError(
            str(path), 1, f"name {playbook.name!r} differs from the file name {path.stem!r}"
        )
    return LoadedPlaybook(playbook, str(path), content_version(playbook))


def load_directory(directory: Path) -> Catalog:
    """Every `*.yaml` / `*.yml` playbook in `directory`; handovers must name a loaded one."""
    catalog = Catalog()
    if not directory.is_dir():
        catalog.errors.append(PlaybookError(str(directory), None, "no such directory"))
        return catalog
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in files:
        try:
            loaded = load_file(path)
        except PlaybookError as exc:
            catalog.errors.append(exc)
            continue
        catalog.playbooks[loaded.name] = loaded
    changed = True
    while changed:  # dropping one may break another that hands over to it
        changed = False
        for name, loaded in list(catalog.playbooks.items()):
            missing = [h for h in loaded.playbook.handovers() if h not in catalog.playbooks]
            if missing:
                del catalog.playbooks[name]
                problem = f"hands over to unknown or broken playbook {missing[0]!r}"
                catalog.errors.append(PlaybookError(loaded.path, None, problem))
                changed = True
    return catalog


_CACHE: dict[str, tuple[tuple[tuple[str, int, int], ...], Catalog]] = {}


def cached_directory(directory: Path) -> Catalog:
    """`load_directory`, re-read only when a file was added, removed or changed."""
    try:
        files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    except OSError:
        return load_directory(directory)
    key = str(directory.resolve())
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    catalog = load_directory(directory)
    _CACHE[key] = (stamp, catalog)
    return catalog


def load_path(path: Path) -> Catalog:
    """A directory, or one file (for `tierbot playbook validate FILE`)."""
    if path.is_dir():
        return load_directory(path)
    catalog = Catalog()
    try:
        loaded = load_file(path)
    except PlaybookError as exc:
        catalog.errors.append(exc)
    else:
        catalog.playbooks[loaded.name] = loaded
    return catalog

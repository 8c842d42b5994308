"""Where in a programme or ballot file a validation problem is: its line (SPEC §3).

Pydantic names the field of a problem by its path in the data ("programme.1.stage.2.ends_at");
an official editing the file needs the line too. YAML keeps positions in its node tree; TOML
(tomllib keeps none) is read header by header and key by key, which is enough for the flat,
one-key-a-line files these formats are.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from typing import Final

import yaml
from pydantic import ValidationError

Path = tuple[str | int, ...]

_HEADER: Final = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\s\"']+?)\s*\]\]?\s*(#.*)?$")
_KEY: Final = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def is_yaml(filename: str) -> bool:
    return filename.lower().endswith((".yaml", ".yml"))


def _toml_lines(text: str) -> dict[Path, int]:
    """Every table, array entry and key of a TOML file, by its path, with its line (from 1)."""
    found: dict[Path, int] = {}
    counts: dict[Path, int] = {}  # entries seen so far of each array of tables
    current: Path = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            names = [part.strip().strip("\"'") for part in header.group(2).split(".")]
            path: Path = ()
            for position, name in enumerate(names):
                path = (*path, name)
                last = position == len(names) - 1
                if last and header.group(1) == "[[":
                    index = counts.get(path, 0)
                    counts[path] = index + 1
                    # A new entry starts over the counts of the arrays inside it.
                    for key in [k for k in counts if len(k) > len(path) and k[: len(path)] == path]:
                        del counts[key]
                    path = (*path, index)
                elif path in counts:  # inside the array's newest entry
                    path = (*path, counts[path] - 1)
            current = path
            found.setdefault(current, number)
            continue
        assignment = _KEY.match(line)
        if assignment:
            found.setdefault((*current, assignment.group(1)), number)
    return found


def _yaml_lines(text: str) -> dict[Path, int]:
    found: dict[Path, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return found

    def walk(node: yaml.Node, path: Path) -> None:
        found.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                found.setdefault((*path, str(key.value)), key.start_mark.line + 1)
                walk(value, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    if root is not None:
        walk(root, ())
    return found


def line_of(text: str, filename: str, location: Sequence[str | int]) -> int | None:
    """The line of the deepest part of `location` the file has (None if not even the first)."""
    lines = _yaml_lines(text) if is_yaml(filename) else _toml_lines(text)
    path = tuple(location)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def describe(error: ValidationError, text: str, filename: str) -> str:
    """Each problem as "file:line: field.path: what is wrong", one after the other."""
    problems = []
    issues = error.errors()
    for issue in issues:
        # A list left short only because its entries failed says nothing more.
        if issue["type"] == "too_short" and any(
            len(other["loc"]) > len(issue["loc"])
            and tuple(other["loc"][: len(issue["loc"])]) == tuple(issue["loc"])
            for other in issues
        ):
            continue
        field = ".".join(str(part) for part in issue["loc"])
        line = line_of(text, filename, issue["loc"])
        where = f"{filename}:{line}" if line is not None else filename
        message = str(issue["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {field}: {message}" if field else f"{where}: {message}")
    return "; ".join(problems)


def is_ballot_file(text: str, filename: str) -> bool:
    """A ballot file names one programme (`programme = "key"`) and has [[heading]] tables; a
    programme file has a list of [[programme]] tables. Unreadable files count as programme
    files, whose reader says what is wrong."""
    try:
        data = yaml.safe_load(text) if is_yaml(filename) else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and ("heading" in data or isinstance(data.get("programme"), str))

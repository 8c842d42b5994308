"""Read and write participatory-budgeting elections in the pabulib `.pb` format.

A `.pb` file has three sections, in this order, each a section line followed by a header row
and `;`-separated rows (see https://pabulib.org/format):

    META                      PROJECTS                  VOTES
    key;value                 project_id;cost;name;...  voter_id;vote;...
    budget;4000000000         1;120000000;...           v1;1,3
    vote_type;approval        ...                       ...

Only approval ballots are read (`vote_type` `approval`, or `choose-1`, which is approval with a
single choice). Costs and the budget are whole numbers of won. A ballot may carry a `weight`
column (an extension: 예산학교 수료자 가중치, default 1.0); pabutools keeps it as ballot metadata
and ignores it. As in pabutools, a field reading `None` means "no value", duplicate approvals in
one ballot count once, and blank lines are skipped.

Malformed input raises `PabulibError` with the 1-based line number, so an admin can fix the
file.

A city-scale VOTES section of the usual shape (``voter_id;vote``, plain ASCII) is read at once
with numpy: `PBInstance.votes` is then a `Votes`, whose arrays are what a tally needs and whose
`Vote` objects are made, by the row-by-row reading, only when asked for. Every other file, and
every error, goes through the row-by-row reading.

`write_pabulib` produces text that `parse_pabulib` and pabutools' `parse_pabulib` both read
back to the same election (used by `civicbot export-pabulib`).
"""

from __future__ import annotations

import csv
import gc
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple, TypeVar, overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "PBInstance",
    "PabulibError",
    "Project",
    "Vote",
    "Votes",
    "parse_pabulib",
    "read_pabulib",
    "write_pabulib",
]

SECTIONS = ("meta", "projects", "votes")
APPROVAL_VOTE_TYPES = ("approval", "choose-1")
# Whole numbers, optionally written with a zero fraction ("1200.00") as some pabulib files do.
_WHOLE = re.compile(r"\d+(?:\.0*)?")
# Amounts of money: decimals with "." or "," (pabutools reads both), e.g. a Warsaw budget of
# "969245.38".
_AMOUNT = re.compile(r"\d+(?:[.,]\d*)?")
_NO_META: Mapping[str, str] = MappingProxyType({})
# Bytes the bulk reading of VOTES looks for.
_NEWLINE, _SPACE, _COMMA, _SEMICOLON = 0x0A, 0x20, 0x2C, 0x3B
_LONGEST_ID = 64  # bytes; longer voter or project ids are read row by row
# Odd 64-bit constants (golden ratio, then splitmix64's) for `_hashed_rows`.
_MOST_HASH_BITS = 22  # a table of 4 bytes a slot (16 MiB); more ids go to a binary search
_HASH_MULTIPLIERS = tuple(
    np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
)

T = TypeVar("T")
IntArray = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]
UInt64Array = npt.NDArray[np.uint64]


class PabulibError(ValueError):
    """A malformed `.pb` file: `message` says what is wrong, `line` where (1-based)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    cost: int
    name: str | None = None
    # Other PROJECTS columns (category, target, votes, ...), kept for audit and re-export.
    meta: Mapping[str, str] = field(default_factory=dict)


class Vote(NamedTuple):
    """One ballot (a tuple: a city-scale file holds hundreds of thousands)."""

    voter_id: str
    approved: tuple[str, ...]
    weight: float = 1.0
    # Other VOTES columns (age, sex, voting_method, ...).
    meta: Mapping[str, str] = _NO_META


class Votes(Sequence[Vote]):
    """Ballots read in bulk (`parse_pabulib` of a city-scale file): what a tally needs, as
    arrays; the `Vote` objects are made the first time they are asked for.

    Entry k says that ballot ``entry_voter[k]`` approves ``project_ids[entry_project[k]]``
    (in the file's order; an approval written twice is there twice). Every ballot weighs 1 and
    has no other columns.
    """

    __slots__ = ("_read", "_size", "_votes", "entry_project", "entry_voter", "project_ids")

    def __init__(
        self,
        size: int,
        project_ids: tuple[str, ...],
        entry_voter: IntArray,
        entry_project: IntArray,
        read: Callable[[], list[Vote]],
    ) -> None:
        self._size = size
        self.project_ids = project_ids
        self.entry_voter = entry_voter
        self.entry_project = entry_project
        self._read = read
        self._votes: list[Vote] | None = None

    def _list(self) -> list[Vote]:
        if self._votes is None:
            self._votes = _without_collector(self._read)
        return self._votes

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> Vote: ...
    @overload
    def __getitem__(self, index: slice) -> list[Vote]: ...
    def __getitem__(self, index: int | slice) -> Vote | list[Vote]:
        return self._list()[index]

    def __iter__(self) -> Iterator[Vote]:
        return iter(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Votes | list):
            return self._list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._list())


@dataclass(frozen=True, slots=True)
class PBInstance:
    """An election; money (budget, costs) in whole multiples of 1/unit of its currency.

    ``unit`` is 1 unless the file wrote amounts with decimals ("827838.5" gives unit 10).
    """

    budget: int
    projects: dict[str, Project]
    votes: Sequence[Vote]
    meta: dict[str, str] = field(default_factory=dict)
    unit: int = 1


def read_pabulib(path: str | Path) -> PBInstance:
    """Read a `.pb` file (UTF-8, with or without a byte-order mark)."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PabulibError("the file is not valid UTF-8", line) from exc
    return parse_pabulib(text)


def parse_pabulib(text: str) -> PBInstance:
    """Parse the text of a `.pb` file.

    Accepted as pabutools accepts them: quoted fields (a quoted field may run over several
    lines), `;` inside a META value, amounts with decimals, blank lines. Refused, with the line:
    what leaves the election unclear (a missing section or column, a row with fewer or more
    columns than its header, a cost that is not an amount, a vote for an unknown project, a
    voter or project listed twice, counts in META that the file contradicts).
    """
    return _without_collector(partial(_parse, text))


def _without_collector(read: Callable[[], T]) -> T:
    """`read()` with the cyclic garbage collector paused.

    A city-scale file makes hundreds of thousands of small objects at once, none of them in a
    reference cycle: the collector would only rescan them again and again.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return read()
    finally:
        if collecting:
            gc.enable()


def _parse(text: str) -> PBInstance:
    lines = text.removeprefix("\ufeff").splitlines()
    sections: dict[str, tuple[int, list[str], list[tuple[int, list[str]]]]] = {}
    # The VOTES rows as lines, when they hold no quotes (then no field runs over two lines).
    votes_lines: list[str] | None = None
    votes_text = ""
    current: list[tuple[int, list[str]]] | None = None
    rows = _rows(lines)
    last_line = 1
    for line, row in rows:
        last_line = line
        keyword = row[0].strip().lower()
        if keyword in SECTIONS:
            if keyword in sections:
                raise PabulibError(f"section {keyword.upper()} appears twice", line)
            expected = SECTIONS[len(sections)]
            if keyword != expected:
                raise PabulibError(
                    f"section {keyword.upper()} found where {expected.upper()} was expected "
                    "(sections must be META, PROJECTS, VOTES in this order)",
                    line,
                )
            header_line, header = next(rows, (line, []))
            if not header or header[0].strip().lower() in SECTIONS:
                raise PabulibError(f"section {keyword.upper()} has no header row", line)
            last_line = header_line
            current = []
            sections[keyword] = (header_line, [h.strip() for h in header], current)
            if keyword == "votes":
                votes_text = "\n".join(lines[header_line:])
                if '"' not in votes_text:
                    votes_lines = lines[header_line:]
                    break
        elif current is None:
            raise PabulibError("the file must start with the META section", line)
        else:
            current.append((line, row))
    for name in SECTIONS:
        if name not in sections:
            raise PabulibError(f"missing section {name.upper()} (the file ends here)", last_line)

    meta, meta_lines = _parse_meta(*sections["meta"])
    projects, amounts = _parse_projects(*sections["projects"])
    budget_amount = _amount(meta["budget"], "budget", meta_lines["budget"])
    unit = math.lcm(budget_amount.denominator, *(a.denominator for a in amounts.values()))
    if unit != 1:
        projects = {
            pid: Project(p.id, int(amounts[pid] * unit), p.name, p.meta)
            for pid, p in projects.items()
        }
    votes_line, votes_header, vote_rows = sections["votes"]
    votes: Sequence[Vote]
    if votes_lines is None:
        numbers = [n for n, _ in vote_rows]
        votes = _parse_votes(votes_line, votes_header, numbers, [r for _, r in vote_rows], projects)
    else:
        votes = _bulk_votes(
            votes_line, votes_header, votes_lines, votes_text, projects
        ) or _split_votes(votes_line, votes_header, votes_lines, projects)
    # num_projects / num_votes, when given, must match: a mismatch means a truncated file.
    for key, actual in (("num_projects", len(projects)), ("num_votes", len(votes))):
        if key in meta:
            declared = _whole(meta[key], key, meta_lines[key])
            if declared != actual:
                raise PabulibError(
                    f"META says {key} is {declared} but the file has {actual}", meta_lines[key]
                )
    budget = int(budget_amount * unit)
    return PBInstance(budget=budget, projects=projects, votes=votes, meta=meta, unit=unit)


def _split_votes(
    header_line: int, header: list[str], lines: list[str], projects: Mapping[str, Project]
) -> list[Vote]:
    """VOTES rows without quotes, each on its line: split directly (as the csv module would,
    only faster), blank lines skipped."""
    numbers: Sequence[int] = range(header_line + 1, header_line + len(lines) + 1)
    body = lines
    if not all(body) or any(map(str.isspace, body)):
        kept = [(n, t) for n, t in zip(numbers, body, strict=True) if t.strip()]
        numbers, body = [n for n, _ in kept], [t for _, t in kept]
    return _parse_votes(header_line, header, numbers, [t.split(";") for t in body], projects)


def write_pabulib(instance: PBInstance) -> str:
    """Write `instance` as a `.pb` file.

    META keeps `instance.meta` in order and sets `budget`, `vote_type`, `num_projects` and
    `num_votes` from the election itself. Values that no reader could give back unchanged (line
    breaks, surrounding blanks, the word `None`, `,` in a project id) raise `ValueError`.
    """
    _check_writable(instance)
    meta = dict(instance.meta)
    meta.update(
        {
            "num_projects": str(len(instance.projects)),
            "num_votes": str(len(instance.votes)),
            "budget": _decimal(instance.budget, instance.unit),
            "vote_type": "approval",
        }
    )
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")

    writer.writerow(["META"])
    writer.writerow(["key", "value"])
    for key, value in meta.items():
        writer.writerow([_first_cell(key, "META key"), _plain(value, f"META {key}")])

    project_extra = _extra_keys(p.meta for p in instance.projects.values())
    with_name = any(p.name is not None for p in instance.projects.values())
    writer.writerow(["PROJECTS"])
    writer.writerow(["project_id", "cost", *(["name"] if with_name else []), *project_extra])
    for project in instance.projects.values():
        cells = [_first_cell(project.id, "project id"), _decimal(project.cost, instance.unit)]
        if with_name:
            cells.append("None" if project.name is None else _cell(project.name, "project name"))
        cells += [_optional(project.meta.get(k), k) for k in project_extra]
        writer.writerow(cells)

    vote_extra = _extra_keys(v.meta for v in instance.votes)
    weighted = any(v.weight != 1.0 for v in instance.votes)
    writer.writerow(["VOTES"])
    writer.writerow(["voter_id", "vote", *(["weight"] if weighted else []), *vote_extra])
    for vote in instance.votes:
        # An empty ballot is an empty field: pabutools reads "None" there as a missing column.
        cells = [_first_cell(vote.voter_id, "voter id"), ",".join(dict.fromkeys(vote.approved))]
        if weighted:
            cells.append(repr(vote.weight))
        cells += [_optional(vote.meta.get(k), k) for k in vote_extra]
        writer.writerow(cells)
    return out.getvalue()


def _decimal(amount: int, unit: int) -> str:
    """`amount` / `unit` written exactly ("969245.38"); `unit` must divide a power of ten."""
    value = Fraction(amount, unit)
    if value.denominator == 1:
        return str(value.numerator)
    digits = 0
    while (10**digits) % value.denominator:
        digits += 1
        if digits > 30:
            raise ValueError(f"{value} has no exact decimal form")
    scaled = str(abs(value.numerator) * (10**digits // value.denominator)).rjust(digits + 1, "0")
    return f"{'-' if value < 0 else ''}{scaled[:-digits]}.{scaled[-digits:]}"


def _check_writable(instance: PBInstance) -> None:
    """What the reader would reject, refused before writing."""
    if instance.budget < 0:
        raise ValueError(f"the budget {instance.budget} is negative")
    for key, project in instance.projects.items():
        if key != project.id:
            raise ValueError(f"project {project.id!r} is filed under {key!r}")
        if "," in project.id:
            raise ValueError(f"project id {project.id!r} contains ','")
        if project.cost < 0:
            raise ValueError(f"project {project.id!r} has a negative cost")
        if {"project_id", "cost", "name"} & set(project.meta):
            raise ValueError(f"project {project.id!r} repeats a standard column in its meta")
    voters: set[str] = set()
    for vote in instance.votes:
        if vote.voter_id in voters:
            raise ValueError(f"voter {vote.voter_id!r} votes twice")
        voters.add(vote.voter_id)
        unknown = [pid for pid in vote.approved if pid not in instance.projects]
        if unknown:
            raise ValueError(f"voter {vote.voter_id!r} approves unknown project {unknown[0]!r}")
        if not (math.isfinite(vote.weight) and vote.weight > 0):
            raise ValueError(f"voter {vote.voter_id!r} has weight {vote.weight}")
        if {"voter_id", "vote", "weight"} & set(vote.meta):
            raise ValueError(f"voter {vote.voter_id!r} repeats a standard column in its meta")


def _rows(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the line each starts on (pabutools also splits lines before csv;
    like it, a quoted field left open continues on the next line)."""
    reader = csv.reader(lines, delimiter=";")
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise PabulibError(f"unreadable row ({exc})", line) from exc
        if (
            reader.line_num > line
            and sum(t.count('"') for t in lines[line - 1 : reader.line_num]) % 2
        ):
            # The reader ran to the end of the file inside quotes.
            raise PabulibError("a quoted field opened on this line is never closed", line)
        if row and not (len(row) == 1 and not row[0].strip()):
            yield line, row


def _parse_meta(
    header_line: int, header: list[str], rows: list[tuple[int, list[str]]]
) -> tuple[dict[str, str], dict[str, int]]:
    """The META entries, and the line of each (for errors found later).

    A value may contain `;` (it then spans several columns, joined back); pabutools keeps
    only the part before the first `;`.
    """
    if [h.lower() for h in header] != ["key", "value"]:
        raise PabulibError("the META header must be 'key;value'", header_line)
    meta: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line, row in rows:
        if len(row) < 2:
            raise PabulibError("a META row needs a key and a value (key;value)", line)
        key, value = row[0].strip(), ";".join(row[1:]).strip()
        if key in meta:
            raise PabulibError(f"META key {key!r} appears twice", line)
        meta[key] = value
        lines[key] = line
    for required in ("budget", "vote_type"):
        if required not in meta:
            raise PabulibError(f"META has no {required!r}", header_line)
    if meta["vote_type"] not in APPROVAL_VOTE_TYPES:
        raise PabulibError(
            f"vote_type {meta['vote_type']!r} is not supported: only approval ballots are tallied",
            lines["vote_type"],
        )
    return meta, lines


def _parse_projects(
    header_line: int, header: list[str], rows: list[tuple[int, list[str]]]
) -> tuple[dict[str, Project], dict[str, Fraction]]:
    """The projects (costs in whole units of money) and their exact costs."""
    _check_header(header, header_line, "PROJECTS", "project_id", "cost")
    cost_col = header.index("cost")
    name_col = header.index("name") if "name" in header else -1
    projects: dict[str, Project] = {}
    amounts: dict[str, Fraction] = {}
    for line, row in rows:
        if len(row) != len(header):
            raise PabulibError(
                f"a PROJECTS row needs {len(header)} columns like its header, found {len(row)}",
                line,
            )
        cells = [c.strip() for c in row]
        project_id = cells[0]
        if not project_id or _is_none(project_id):
            raise PabulibError("a project has no project_id", line)
        if "," in project_id:
            raise PabulibError(
                f"project id {project_id!r} contains ',' (votes list ids by ',')", line
            )
        if project_id in projects:
            raise PabulibError(f"project {project_id!r} appears twice", line)
        amount = _amount(cells[cost_col], f"cost of project {project_id!r}", line)
        name = None if name_col < 0 or _is_none(cells[name_col]) else cells[name_col]
        meta = {
            header[i]: cells[i]
            for i in range(1, len(header))
            if i not in (cost_col, name_col) and not _is_none(cells[i])
        }
        projects[project_id] = Project(id=project_id, cost=int(amount), name=name, meta=meta)
        amounts[project_id] = amount
    return projects, amounts


def _bulk_votes(
    header_line: int,
    header: list[str],
    lines: list[str],
    text: str,
    projects: Mapping[str, Project],
) -> Votes | None:
    """The usual city-scale VOTES section read at once, with numpy; None for anything else.

    Read at once: columns ``voter_id;vote``, plain ASCII rows without blanks (blank lines
    aside), quotes or control characters, one ``;`` a row, distinct voter ids, every vote for a
    listed project. Anything else (including every error) is left to the row-by-row reading,
    which also makes the `Vote` objects of this one when they are asked for. `text` is `lines`
    joined by line breaks.
    """
    if header != ["voter_id", "vote"] or not lines:
        return None
    if not text.isascii():
        return None
    data = np.frombuffer(text.encode("ascii") + b"\n", np.uint8)
    newline = data == _NEWLINE
    if np.count_nonzero(data <= _SPACE) != np.count_nonzero(newline):
        return None
    ends = np.flatnonzero(newline)
    starts = np.concatenate(([0], ends[:-1] + 1))
    filled = ends > starts
    starts, ends = starts[filled], ends[filled]
    semicolon = data == _SEMICOLON
    semicolons = np.flatnonzero(semicolon)
    # As many `;` as rows, each inside its row: exactly one a row.
    if len(semicolons) != len(starts) or not len(starts):
        return None
    if np.any(semicolons <= starts) or np.any(semicolons >= ends):
        return None  # no `;` in a row, two in another, or a row without a voter id
    voter_ids = _words(data, starts, semicolons - starts)
    if voter_ids is None or _reserved(voter_ids, semicolons - starts) or _repeats(voter_ids):
        return None
    # The vote field (from `;` to the end of the row) split at its commas.
    in_field = np.zeros(len(data), np.int8)
    in_field[semicolons] = 1
    in_field[ends] = -1
    comma = (data == _COMMA) & np.cumsum(in_field, dtype=np.int8).view(np.bool_)
    row_end = np.zeros(len(data), np.bool_)
    row_end[ends] = True
    piece_starts = np.flatnonzero(semicolon | comma) + 1
    piece_sizes = np.flatnonzero(comma | row_end) - piece_starts
    voter = np.cumsum(semicolon[piece_starts - 1]) - 1
    nonempty = piece_sizes > 0  # "1,,2" and an empty vote: empty pieces approve nothing
    approved = _project_positions(
        data, piece_starts[nonempty], piece_sizes[nonempty], list(projects)
    )
    if approved is None:
        return None
    return Votes(
        len(starts),
        tuple(projects),
        voter[nonempty],
        approved,
        partial(_split_votes, header_line, header, lines, projects),
    )


def _words(data: UInt8Array, starts: IntArray, sizes: IntArray) -> UInt64Array | None:
    """The byte strings data[start:start + size] as rows of little-endian 64-bit words,
    zero-padded; None when one is longer than any id should be."""
    longest = int(sizes.max(initial=0))
    if longest > _LONGEST_ID:
        return None
    width = max(1, -(-longest // 8))
    padded = np.concatenate((data, np.zeros(8 * width, np.uint8)))
    # Every 8 bytes from each position, as one word (an unaligned view: no copy).
    at = np.ndarray((len(padded) - 7,), "<u8", padded.data, 0, (1,))
    keep = np.zeros(9, np.uint64)
    keep[1:] = np.cumsum(np.uint64(0xFF) << np.arange(0, 64, 8, dtype=np.uint64))
    words = np.empty((len(starts), width), np.uint64)
    for w in range(width):
        words[:, w] = at[starts + 8 * w] & keep[np.clip(sizes - 8 * w, 0, 8)]
    return words


def _reserved(words: UInt64Array, sizes: IntArray) -> bool:
    """Whether an id may read as None or as a section line (ASCII, any case)."""
    for word in ("none", *SECTIONS):
        spelled = int.from_bytes(word.encode(), "little")
        # Setting 0x20 lowers the case of letters (it may fold other bytes too: only slower).
        fold = int.from_bytes(b" " * len(word), "little")
        same = (words[:, 0] | np.uint64(fold)) == np.uint64(spelled)
        if np.any(same & (sizes == len(word))):
            return True
    return False


def _repeats(words: UInt64Array) -> bool:
    ordered = words[np.lexsort(words.T)] if words.shape[1] > 1 else np.sort(words, axis=0)
    return bool(np.any(np.all(ordered[1:] == ordered[:-1], axis=1)))


def _project_positions(
    data: UInt8Array, starts: IntArray, sizes: IntArray, project_ids: list[str]
) -> IntArray | None:
    """The position in `project_ids` of each piece of `data`; None if one is not listed."""
    pieces = _words(data, starts, sizes)
    if pieces is None:
        return None
    width = pieces.shape[1]
    # The ids a piece could spell (no longer than the longest piece).
    encoded = (pid.encode() for pid in project_ids)
    fitting = [(i, pid) for i, pid in enumerate(encoded) if len(pid) <= 8 * width]
    table = np.zeros((len(fitting), width), np.uint64)
    for row, (_, pid) in enumerate(fitting):
        padded = pid.ljust(8 * width, b"\0")
        table[row] = [int.from_bytes(padded[8 * w : 8 * w + 8], "little") for w in range(width)]
    # Each id as one number (its words mixed); equal numbers are then checked word for word.
    mix = np.arange(1, 2 * width + 1, 2, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    listed_keys = (table * mix).sum(axis=1, dtype=np.uint64)
    piece_keys = (pieces * mix).sum(axis=1, dtype=np.uint64)
    order = np.argsort(listed_keys, kind="stable")
    ordered = listed_keys[order]
    if len(ordered) == 0 or np.any(ordered[1:] == ordered[:-1]):
        return None
    found = _hashed_rows(listed_keys, piece_keys)
    if found is None:
        found = order[np.minimum(np.searchsorted(ordered, piece_keys), len(order) - 1)]
    if not np.array_equal(table[found], pieces):
        return None
    positions = np.array([i for i, _ in fitting], dtype=np.int64)
    approved: IntArray = positions[found]
    return approved


def _hashed_rows(keys: UInt64Array, wanted: UInt64Array) -> IntArray | None:
    """For each of `wanted`, the index of the equal one of `keys` (all distinct) if there is
    one, else of any (the caller checks); None if no hash tried gives the keys distinct slots.

    A table indexed by a multiplicative hash of the key: a few passes over `wanted` where a
    binary search among the keys costs several times as much at city scale.
    """
    # About n**2 slots for n keys: some hash of the few tried then spreads them (birthday odds).
    bits = 2 * len(keys).bit_length() + 1
    if bits > _MOST_HASH_BITS:
        return None
    shift = np.uint64(64 - bits)
    for multiplier in _HASH_MULTIPLIERS:
        slots = (keys * multiplier) >> shift
        taken = np.sort(slots)  # (not np.unique: it imports numpy.ma, 10 ms)
        if not np.any(taken[1:] == taken[:-1]):
            rows = np.zeros(1 << bits, np.int32)
            rows[slots] = np.arange(len(keys))
            found: IntArray = rows[(wanted * multiplier) >> shift].astype(np.int64)
            return found
    return None


def _parse_votes(
    header_line: int,
    header: list[str],
    numbers: Sequence[int],
    rows: list[list[str]],
    projects: Mapping[str, Project],
) -> list[Vote]:
    """The votes; `numbers` are the rows' line numbers (only looked at to report an error)."""
    _check_header(header, header_line, "VOTES", "voter_id", "vote")
    width = len(header)
    if not all(len(row) == width for row in rows):
        for line, row in zip(numbers, rows, strict=True):
            if len(row) == 1 and row[0].strip().lower() in SECTIONS:
                raise PabulibError(f"section {row[0].strip().upper()} appears twice", line)
            if len(row) != width:
                raise PabulibError(
                    f"a VOTES row needs {width} columns like its header, found {len(row)}", line
                )
    vote_col = header.index("vote")
    weight_col = header.index("weight") if "weight" in header else -1
    extra = [i for i in range(1, width) if i not in (vote_col, weight_col)]
    ids = [row[0].strip() for row in rows]
    if len(set(ids)) != len(ids) or "" in ids or any(_is_none(v) for v in set(ids)):
        seen: set[str] = set()
        for line, voter_id in zip(numbers, ids, strict=True):
            if not voter_id or _is_none(voter_id):
                raise PabulibError("a vote has no voter_id", line)
            if voter_id in seen:
                raise PabulibError(f"voter {voter_id!r} votes twice", line)
            seen.add(voter_id)
    # Ballots repeat: each distinct vote field is read once.
    fields = [row[vote_col] for row in rows]
    approvals = {f: _approvals(f, projects) for f in set(fields)}
    if None in approvals.values():
        for line, voter_id, field_ in zip(numbers, ids, fields, strict=True):
            if approvals[field_] is None:
                _approvals(field_, projects, voter_id, line)  # raises, with the line
    if weight_col < 0 and not extra:
        chosen = {f: a or () for f, a in approvals.items()}
        return list(map(Vote, ids, map(chosen.__getitem__, fields)))
    votes: list[Vote] = []
    for line, row, voter_id, field_ in zip(numbers, rows, ids, fields, strict=True):
        weight = 1.0
        if weight_col >= 0 and not _is_none(row[weight_col].strip()):
            weight = _weight(row[weight_col].strip(), voter_id, line)
        meta = {header[i]: row[i].strip() for i in extra if not _is_none(row[i].strip())}
        votes.append(Vote(voter_id, approvals[field_] or (), weight, meta or _NO_META))
    return votes


def _approvals(
    field_: str, projects: Mapping[str, Project], voter_id: str = "", line: int = 0
) -> tuple[str, ...] | None:
    """The approved ids, each once; None for an unknown id (raised as an error if `line`)."""
    text = field_.strip()
    if _is_none(text):
        return ()
    ids = text.split(",")
    if len(set(ids)) == len(ids) and all(i in projects for i in ids):
        return tuple(ids)  # the usual case: clean ids, each once
    approved: dict[str, None] = {}
    for raw in text.split(","):
        project_id = raw.strip()
        if not project_id:
            continue
        if project_id not in projects:
            if line:
                raise PabulibError(
                    f"voter {voter_id!r} approves unknown project {project_id!r}", line
                )
            return None
        approved[project_id] = None
    return tuple(approved)


def _check_header(header: list[str], line: int, section: str, first: str, *required: str) -> None:
    if header[0] != first:
        raise PabulibError(f"the first {section} column must be {first!r}, not {header[0]!r}", line)
    for name in required:
        if name not in header:
            raise PabulibError(f"the {section} header has no {name!r} column", line)
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise PabulibError(f"the {section} header repeats {', '.join(duplicated)}", line)


def _whole(text: str, what: str, line: int) -> int:
    if not _WHOLE.fullmatch(text):
        raise PabulibError(f"{what} must be a whole non-negative number, not {text!r}", line)
    return int(text.split(".")[0])


def _amount(text: str, what: str, line: int) -> Fraction:
    """An amount of money, exact; "1200.50" and "1200,50" (as pabutools reads both)."""
    if not _AMOUNT.fullmatch(text):
        raise PabulibError(f"{what} must be a non-negative amount of money, not {text!r}", line)
    return Fraction(text.replace(",", "."))


def _weight(text: str, voter_id: str, line: int) -> float:
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not (math.isfinite(weight) and weight > 0):
        raise PabulibError(
            f"weight of voter {voter_id!r} must be a positive number, not {text!r}", line
        )
    return weight


def _is_none(cell: str) -> bool:
    return cell.lower() == "none"


def _extra_keys(metas: Iterable[Mapping[str, str]]) -> list[str]:
    keys: dict[str, None] = {}
    for meta in metas:
        keys.update(dict.fromkeys(meta))
    return list(keys)


def _first_cell(value: str, what: str) -> str:
    """A row's first cell: readers also take it for a section line or a blank line."""
    if not value or value.lower() in SECTIONS:
        raise ValueError(f"{what} {value!r} would not read back as a {what}")
    return _cell(value, what)


def _cell(value: str, what: str) -> str:
    if _is_none(value):
        raise ValueError(
            f"{what} cannot be the word {value!r}: readers take it for a missing value"
        )
    return _plain(value, what)


def _plain(value: str, what: str) -> str:
    if value != value.strip() or value.splitlines() not in ([], [value]):
        raise ValueError(f"{what} {value!r} has line breaks or surrounding blanks")
    return value


def _optional(value: str | None, what: str) -> str:
    return "None" if value is None else _cell(value, what)

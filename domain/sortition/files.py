"""Pool and quota CSV files; every error names the file and the line."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from domain.sortition.model import Applicant, Quota, SortitionError

QUOTA_COLUMNS = ("feature", "value", "min", "max")


class DataFileError(SortitionError):
    """A pool or quota file that cannot be used."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.reason = message


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank rows with the line each starts on (a quoted field may span lines)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        # Korean Excel saves CSV as CP949 unless told otherwise
        line = error.object[: error.start].count(b"\n") + 1
        raise DataFileError(str(path), line, "not UTF-8; save the file as 'CSV UTF-8'") from error
    except OSError as error:
        raise DataFileError(str(path), 0, error.strerror or str(error)) from error
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((start, [cell.strip() for cell in row]))
            start = reader.line_num + 1
    except csv.Error as error:
        # report where the broken row starts: an unclosed quote fails only at the end
        raise DataFileError(str(path), start, f"malformed CSV: {error}") from error
    return rows


def read_quotas(path: str | Path) -> list[Quota]:
    """Quota file in the Sortition Foundation format: a ``feature,value,min,max`` header
    (other columns, such as min_flex and max_flex, are ignored)."""
    name = str(path)
    rows = _rows(Path(path))
    if not rows:
        raise DataFileError(name, 1, "empty file; expected the header feature,value,min,max")
    header_line, header = rows[0]
    header = [cell.lower() for cell in header]
    missing = [col for col in QUOTA_COLUMNS if col not in header]
    if missing:
        raise DataFileError(name, header_line, f"missing column(s): {', '.join(missing)}")
    col = {key: header.index(key) for key in QUOTA_COLUMNS}
    quotas: list[Quota] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataFileError(name, line, f"{len(row)} fields but the header has {len(header)}")
        feature, value = row[col["feature"]], row[col["value"]]
        if not feature or not value:
            raise DataFileError(name, line, "empty feature or value")
        bounds = []
        for key in ("min", "max"):
            try:
                number = int(row[col[key]])
            except ValueError:
                raise DataFileError(
                    name, line, f"{key} {row[col[key]]!r} is not a whole number"
                ) from None
            if number < 0:
                raise DataFileError(name, line, f"{key} {number} is negative")
            bounds.append(number)
        if bounds[0] > bounds[1]:
            raise DataFileError(name, line, f"min {bounds[0]} is more than max {bounds[1]}")
        if (feature, value) in seen:
            raise DataFileError(
                name, line, f"{feature}={value} already has a quota on line {seen[feature, value]}"
            )
        seen[feature, value] = line
        quotas.append(Quota(feature, value, bounds[0], bounds[1]))
    if not quotas:
        raise DataFileError(name, header_line, "no quotas after the header")
    return quotas


def read_pool(path: str | Path, quotas: Sequence[Quota] | None = None) -> list[Applicant]:
    """Pool file: an ``id`` column and one column per feature.

    With ``quotas``, every quota feature must be a column and every value must have a quota,
    so a typo is reported at its line instead of surfacing as an infeasible draw.
    """
    name = str(path)
    rows = _rows(Path(path))
    if not rows:
        raise DataFileError(name, 1, "empty file; expected a header with an id column")
    header_line, header = rows[0]
    if "id" not in header:
        raise DataFileError(name, header_line, "no 'id' column")
    if "" in header or len(set(header)) != len(header):
        raise DataFileError(name, header_line, "column names must be non-empty and unique")
    allowed: dict[str, set[str]] = {}
    for quota in quotas or ():
        allowed.setdefault(quota.feature, set()).add(quota.value)
    absent = sorted(set(allowed) - set(header))
    if absent:
        raise DataFileError(
            name, header_line, f"no column for quota feature(s): {', '.join(absent)}"
        )
    pool: list[Applicant] = []
    seen: dict[str, int] = {}
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataFileError(name, line, f"{len(row)} fields but the header has {len(header)}")
        features = dict(zip(header, row, strict=True))
        pid = features.pop("id")
        if not pid:
            raise DataFileError(name, line, "empty id")
        if pid in seen:
            raise DataFileError(name, line, f"id {pid!r} already used on line {seen[pid]}")
        seen[pid] = line
        for feature in sorted(allowed):
            if features[feature] not in allowed[feature]:
                raise DataFileError(name, line, f"{feature}={features[feature]!r} has no quota")
        pool.append(Applicant(pid, features))
    if not pool:
        raise DataFileError(name, header_line, "no applicants after the header")
    return pool

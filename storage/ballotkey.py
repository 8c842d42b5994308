"""The ballot key (issue 16): it lives outside the database, which keeps only its fingerprint.

With the key, a person's ballot is found again (to replace it, to show it to them); without
it, a copy of the database links no ballot to a voter. The key is `BALLOT_KEY` (64 hex
characters) or the file named by `BALLOT_KEY_FILE`. From one key come, each under its own
label: the ballot pseudonyms (HMAC, as before the key moved out, so existing ballots keep
theirs), the receipts, the seal of ballots waiting to be mixed (AES-GCM), the fingerprint and
the marker that stands for an erased person where a record must outlive them (`erased`). See
docs/ballot-secrecy.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.voting import pseudonym
from storage.db import Database, Session

KEY_BYTES: Final = 32
FINGERPRINT: Final = "ballot-key-fingerprint"  # installation_secrets row: the fingerprint only
OLD_KEY: Final = "ballot-pseudonyms"  # where the key itself sat before migration 0021
RECEIPT_LENGTH: Final = 10


class BallotKeyProblem(RuntimeError):
    """The bot must not start: the message says what the operator does about it."""


class BallotKey:
    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise ValueError(f"a ballot key is {KEY_BYTES} bytes (64 hex characters)")
        self._raw = raw
        self._seal = AESGCM(self._derive(b"seal"))

    @classmethod
    def from_text(cls, text: str) -> BallotKey:
        try:
            raw = bytes.fromhex(text.strip())
        except ValueError as error:
            raise ValueError("a ballot key is 64 hex characters") from error
        return cls(raw)

    @classmethod
    def generate(cls) -> BallotKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @property
    def text(self) -> str:
        return self._raw.hex()

    def __repr__(self) -> str:  # never the key itself in a log or a traceback
        return f"BallotKey(fingerprint={self.fingerprint()[:12]}…)"

    def _derive(self, label: bytes) -> bytes:
        return hmac.new(self._raw, b"civicbot ballot key: " + label, hashlib.sha256).digest()

    def fingerprint(self) -> str:
        """Stored in the database: tells a wrong key from the right one, reveals nothing."""
        return self._derive(b"fingerprint").hex()

    def pseudonym(self, stage_id: int, heading: str, user_id: int) -> str:
        return pseudonym(self._raw, stage_id, heading, user_id)

    def erased(self, user_id: int) -> int:
        """What stands for an erased person in the rows that must outlive them (their voter roll
        entries, a posting block: storage/privacy.py `erase_person`): a keyed hash of their
        Telegram user id, so only the key tells whose it is, and the same account signing up
        again is matched to it. Negative (-2^62 … -1), so never a Telegram user id."""
        code = hmac.new(self._derive(b"erased person"), str(user_id).encode(), hashlib.sha256)
        return -(int.from_bytes(code.digest()[:8], "big") >> 2) - 1

    def receipt(self, ballot_pseudonym: str) -> str:
        """The voter's receipt for a heading: the same code for every ballot they cast in it
        (a receipt shown to someone says nothing of which ballot counts in the end)."""
        code = hmac.new(self._derive(b"receipt"), ballot_pseudonym.encode(), hashlib.sha256)
        return code.hexdigest()[:RECEIPT_LENGTH].upper()

    def seal(self, data: dict[str, Any]) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._seal.encrypt(nonce, json.dumps(data, ensure_ascii=False).encode(), None)
        return base64.b64encode(nonce + sealed).decode()

    def open(self, text: str) -> dict[str, Any]:
        raw = base64.b64decode(text)
        try:
            plain = self._seal.decrypt(raw[:12], raw[12:], None)
        except InvalidTag as error:
            raise BallotKeyProblem("a sealed ballot does not open with this ballot key") from error
        found: dict[str, Any] = json.loads(plain)
        return found


def receipt_digest(code: str) -> str:
    """What the database keeps of a receipt: enough to check one, not to find its ballot."""
    return hashlib.sha256(f"receipt:{code.strip().upper()}".encode()).hexdigest()


def read_key_file(path: Path) -> BallotKey:
    try:
        return BallotKey.from_text(path.read_text(encoding="ascii"))
    except OSError as error:
        raise BallotKeyProblem(f"BALLOT_KEY_FILE {path} cannot be read: {error}") from error
    except ValueError as error:
        raise BallotKeyProblem(f"BALLOT_KEY_FILE {path}: {error}") from error


def write_key_file(path: Path, key: BallotKey, note: str = "") -> None:
    """A new file readable by its owner only; never overwrites one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="ascii") as out:
        path.chmod(0o600)
        out.write(key.text + "\n")
    if note:
        path.with_name(path.name + ".README").write_text(note, encoding="utf-8")


NO_KEY_HELP: Final = (
    "No ballot key is set. The key that keeps ballots secret lives outside the database"
    " (docs/ballot-secrecy.md). Make one with `civicbot ballot-key new --output"
    " /etc/civicbot/ballot.key`, give a copy to your election officer, and set"
    " BALLOT_KEY_FILE=/etc/civicbot/ballot.key (or BALLOT_KEY=<64 hex characters>)."
)
OLD_KEY_HELP: Final = (
    "The ballot key is still stored in the database, where anyone with a copy could link"
    " ballots to voters. Stop every bot process, then run `civicbot ballot-key export --output"
    " /etc/civicbot/ballot.key`: it writes the key to that file, removes it from the database,"
    " rewrites the ballots and conversation data, and vacuums. Then set"
    " BALLOT_KEY_FILE=/etc/civicbot/ballot.key and start the bot (docs/ballot-secrecy.md)."
)
WRONG_KEY_HELP: Final = (
    "The ballot key set in BALLOT_KEY or BALLOT_KEY_FILE is not this database's (its"
    " fingerprint differs). Set the key this installation was made with. If that key is"
    " lost, see `civicbot ballot-key new --replace-lost` in docs/ballot-secrecy.md."
)


async def check(session: Session, key: BallotKey | None) -> None:
    """Refuse to go on without the database's own key; the first start records its
    fingerprint."""
    if await session.scalar("SELECT 1 FROM installation_secrets WHERE name = ?", (OLD_KEY,)):
        raise BallotKeyProblem(OLD_KEY_HELP)
    if key is None:
        raise BallotKeyProblem(NO_KEY_HELP)
    stored = await session.scalar(
        "SELECT value FROM installation_secrets WHERE name = ?", (FINGERPRINT,)
    )
    if stored is None:  # the first start: another worker may be recording its own
        await session.execute(
            "INSERT INTO installation_secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (FINGERPRINT, key.fingerprint()),
        )
        stored = await session.scalar(
            "SELECT value FROM installation_secrets WHERE name = ?", (FINGERPRINT,)
        )
    if not hmac.compare_digest(str(stored), key.fingerprint()):
        raise BallotKeyProblem(WRONG_KEY_HELP)


async def attach(db: Database, key: BallotKey | None) -> None:
    """Check the key against the database (see `check`) and give it to its sessions."""
    async with db.transaction() as session:
        await check(session, key)
    db.ballot_key = key

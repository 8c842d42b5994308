"""Photos on the pages: a proposal's photos and the ballot's project photos live on
Telegram's servers (the bot keeps their file ids). They are fetched through the bot, so the
token never reaches a browser, and kept in memory for the next reader."""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from telegram.error import TelegramError

from bot.services import voting
from bot.web.ids import parse_id
from bot.web.public import limited, not_found, site_of
from domain.ids import parse_number
from storage.proposals import ProposalsRepository

CACHE_BYTES: Final = 64 * 1024 * 1024
_IMAGES: Final = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def image_type(data: bytes) -> str | None:
    for magic, kind in _IMAGES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class PhotoCache:
    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()

    def get(self, file_id: str) -> tuple[bytes, str] | None:
        found = self._items.get(file_id)
        if found is not None:
            self._items.move_to_end(file_id)
        return found

    def put(self, file_id: str, data: bytes, kind: str) -> None:
        self._items[file_id] = (data, kind)
        self.size += len(data)
        while self.size > self.limit and self._items:
            _, (old, _) = self._items.popitem(last=False)
            self.size -= len(old)


async def photo(request: Request) -> Response:
    """/media/proposal/{id}/{n} and /media/ballot/{heading id}/{item index}."""
    site = site_of(request)
    owner = parse_id(request.path_params["id"])
    number = request.path_params["n"]
    index = parse_number(number, 999)  # not isdigit: int() refuses "²"
    if owner is None or index is None:
        return not_found(request)
    file_id: str | None = None
    async with site.services.db.reading() as session:
        if request.path_params["kind"] == "proposal":
            proposal = await ProposalsRepository(session).get(owner)
            if proposal is not None and not proposal.hidden and index < len(proposal.photos):
                file_id = proposal.photos[index]
        else:
            where = await voting.locate(session, owner)
            if where is not None and index < len(where.heading.items):
                file_id = where.heading.items[index].photo
    if not file_id:
        return not_found(request)
    cache: PhotoCache = request.app.state.photos
    found = cache.get(file_id)
    if found is None:
        refused = await limited(request)
        if refused is not None:
            return refused
        try:
            found_file = await site.application.bot.get_file(file_id)
            data = bytes(await found_file.download_as_bytearray())
        except TelegramError:
            return not_found(request)
        kind = image_type(data)
        if kind is None:
            return not_found(request)
        cache.put(file_id, data, kind)
        found = (data, kind)
    return Response(found[0], media_type=found[1], headers={"Cache-Control": "max-age=86400"})

"""Public pages (SPEC §12): no sign-in, no personal data, links anyone can share.

Programmes and their timeline, each public proposal, the map of proposals and waste reports,
live and final results with the chart, the table and the `.pb` file, each panel draw's
verification record, and the waste-report statistics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.charts import ChartProject, png, results_figure
from bot.explanations import explanation_text
from bot.handlers.proposals import SORT_LABELS, SORTS, STATUS_GROUP_LABELS, STATUS_GROUPS
from bot.handlers.waste import render_chart
from bot.i18n import Translator
from bot.services import overview, panels, voting, waste
from bot.services import proposals as proposal_service
from bot.web.ids import parse_id
from bot.web.site import Site
from domain.geo import district_at, seoul_districts
from domain.pabulib import write_pabulib
from domain.people import DISTRICTS, DISTRICTS_BY_CODE
from domain.programmes import Programme
from domain.proposals import FIELDS_BY_CODE, POLICY_FIELDS, Status
from domain.sortition import SortitionError
from domain.tally import MES_RULES
from domain.waste import Status as WasteStatus
from storage.panels import DrawRecord
from storage.proposals import Filters, Proposal, ProposalsRepository

PAGE: Final = 10
CSV: Final = "text/csv; charset=utf-8"


def proposal_status_label(t: Translator) -> Callable[..., str]:
    """A template's status_label(status, budget=False): a proposal status in the city's words."""

    def label(status: Status, budget: bool = False) -> str:
        return t.gettext(proposal_service.label_of(status, budget))

    return label


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def not_found(request: Request, t: Translator | None = None) -> Response:
    site = site_of(request)
    t = t or site.public_translator(request)
    return site.render(request, "not_found.html", t, status_code=404)


async def page_not_found(request: Request, error: Exception) -> Response:
    return not_found(request)


async def limited(request: Request) -> Response | None:
    """The costlier public answers (charts, files, receipt checks) are limited per address."""
    site = site_of(request)
    address = request.client.host if request.client else "unknown"
    if await site.limits.allow(f"address:{address}", write=False):
        return None
    t = site.public_translator(request)
    return site.render(request, "too_many.html", t, status_code=429, headers={"Retry-After": "60"})


# -- programmes ------------------------------------------------------------------------------
async def home(request: Request) -> Response:
    site = site_of(request)
    t = site.public_translator(request)
    now = site.now()
    found = await overview.programmes(site.services.db)
    found.sort(key=lambda o: (not o.programme.open_stages(now), o.programme.stages[0].starts_at))
    return site.render(request, "home.html", t, programmes=found, now=now)


async def programme_page(request: Request) -> Response:
    site = site_of(request)
    t = site.public_translator(request)
    key = request.path_params["key"]
    found = await overview.programmes(site.services.db, key) if len(key) <= 40 else []
    if not found:
        return not_found(request, t)
    return site.render(request, "programme.html", t, item=found[0], now=site.now())


# -- proposals -------------------------------------------------------------------------------
def proposal_filters(request: Request) -> dict[str, str]:
    """The list's filters from the query string; unknown values fall back to "any"."""
    query = request.query_params
    values = {
        "sort": query.get("sort", "s"),
        "field": query.get("field", ""),
        "district": query.get("district", ""),
        "status": query.get("status", ""),
        "q": query.get("q", "").strip()[:100],
    }
    values["sort"] = values["sort"] if values["sort"] in SORTS else "s"
    values["field"] = values["field"] if values["field"] in FIELDS_BY_CODE else ""
    values["district"] = values["district"] if values["district"] in DISTRICTS_BY_CODE else ""
    values["status"] = values["status"] if values["status"] in STATUS_GROUPS else ""
    return values


async def proposal_page_of(
    site: Site, request: Request, values: dict[str, str]
) -> tuple[list[Proposal], int, int]:
    page = parse_id(request.query_params.get("page", "1")) or 1
    filters = Filters(
        field=values["field"] or None,
        district=values["district"] or None,
        statuses=STATUS_GROUPS.get(values["status"], ()),
        text=values["q"] or None,
    )
    page = min(page, 10_000)
    async with site.services.db.reading() as session:
        found, total = await ProposalsRepository(session).search(
            filters, SORTS[values["sort"]], PAGE, (page - 1) * PAGE
        )
    return found, total, page


def list_context(t: Translator, values: dict[str, str]) -> dict[str, Any]:
    return {
        "values": values,
        "sorts": [(key, t.gettext(label)) for key, label in SORT_LABELS.items()],
        "groups": [(key, t.gettext(STATUS_GROUP_LABELS[key])) for key in STATUS_GROUPS],
        "fields": [(f.code, f.name(t.language)) for f in POLICY_FIELDS],
        "districts": [(d.code, d.name(t.language)) for d in DISTRICTS],
        "status_label": proposal_status_label(t),
        "page_size": PAGE,
    }


async def proposal_list(request: Request) -> Response:
    site = site_of(request)
    t = site.public_translator(request)
    values = proposal_filters(request)
    found, total, page = await proposal_page_of(site, request, values)
    return site.render(
        request,
        "proposals.html",
        t,
        found=found,
        total=total,
        page=page,
        **list_context(t, values),
    )


async def proposal_details(
    site: Site, proposal_id: int | None, t: Translator, viewer_id: int | None = None
) -> dict[str, Any] | None:
    """Everything a proposal's page shows; None when it does not exist or is hidden."""
    if proposal_id is None:
        return None
    now = site.now()
    async with site.services.db.reading() as session:
        repository = ProposalsRepository(session)
        proposal = await repository.get(proposal_id)
        if proposal is None or proposal.hidden:
            return None
        programme = await proposal_service.programme_of(session, proposal)
        history = await repository.history(proposal_id)
        supported = viewer_id is not None and await repository.supports(proposal_id, viewer_id)
    rules = proposal_service.rules_of(programme)
    located = (
        district_at(proposal.latitude, proposal.longitude)
        if proposal.latitude is not None and proposal.longitude is not None
        else None
    )
    left = (
        t.left(now, proposal.support_ends_at)
        if proposal.support_ends_at is not None and now < proposal.support_ends_at
        else ""
    )
    return {
        "proposal": proposal,
        "programme": programme,
        "goal": rules.support_threshold,
        "left": left,
        "history": history,
        "support_open": proposal_service.support_is_open(proposal, programme, now),
        "supported": supported,
        "located_in": located,
        "status_label": proposal_status_label(t),
    }


async def proposal_page(request: Request) -> Response:
    site = site_of(request)
    t = site.public_translator(request)
    details = await proposal_details(site, parse_id(request.path_params["id"]), t)
    if details is None:
        return not_found(request, t)
    return site.render(request, "proposal.html", t, **details)


# -- the map ---------------------------------------------------------------------------------
async def map_page(request: Request) -> Response:
    site = site_of(request)
    t = site.public_translator(request)
    data = await overview.map_data(site.services.db)
    rows = [
        (d, data.proposals_by_district.get(d.code, 0), data.waste_by_district.get(d.code, 0))
        for d in DISTRICTS
    ]
    settings = site.services.settings
    return site.render(
        request,
        "map.html",
        t,
        data=data,
        rows=rows,
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
        waste_label=lambda status: t.gettext(waste.STATUS_LABELS[status]),
        status_label=proposal_status_label(t),
    )


async def map_pins(request: Request) -> Response:
    site = site_of(request)
    t = site.public_translator(request)
    data = await overview.map_data(site.services.db)
    return JSONResponse(
        {
            "proposals": [
                {
                    "id": pin.proposal.id,
                    "title": pin.proposal.title,
                    "status": t.gettext(proposal_service.status_label(pin.proposal)),
                    "lat": pin.proposal.latitude,
                    "lon": pin.proposal.longitude,
                    "url": f"/proposals/{pin.proposal.id}",
                }
                for pin in data.proposals
            ],
            "waste": [
                {
                    "status": t.gettext(waste.STATUS_LABELS[pin.status]),
                    "lat": pin.latitude,
                    "lon": pin.longitude,
                }
                for pin in data.waste
            ],
            "by_district": {
                d.code: {
                    "name": d.name(t.language),
                    "proposals": data.proposals_by_district.get(d.code, 0),
                    "waste": data.waste_by_district.get(d.code, 0),
                }
                for d in DISTRICTS
            },
        }
    )


async def districts_geojson(request: Request) -> Response:
    return JSONResponse(
        seoul_districts(),
        media_type="application/geo+json",
        headers={"Cache-Control": "max-age=86400"},
    )


# -- results ---------------------------------------------------------------------------------
async def results_page(request: Request) -> Response:
    site = site_of(request)
    t = site.public_translator(request)
    heading_id = parse_id(request.path_params["id"])
    counted = await site.results(heading_id) if heading_id is not None else None
    if counted is None:
        return not_found(request, t)
    code = request.query_params.get("receipt", "").strip()[:40]
    checked: bool | None = None
    if code:
        refused = await limited(request)
        if refused is not None:
            return refused
        checked = await voting.receipt_counted(site.services.db, counted.heading_id, code)
    heading = counted.where.heading
    ranked = sorted(heading.items, key=lambda i: (-counted.votes.get(i.key, 0.0), i.key))
    return site.render(
        request,
        "results.html",
        t,
        r=counted,
        heading=heading,
        ranked=ranked,
        receipt=code,
        receipt_counted=checked,
        states=voting.ResultState,
        rule=t.gettext(voting.RULE_NAMES.get(counted.rule, counted.rule)),
        downloadable=counted.state in (voting.ResultState.CLOSED, voting.ResultState.FINAL),
        explained=await explained(site, counted, t),
    )


_EXPLAINED: dict[tuple[int, str], tuple[int, str]] = {}


async def explained(site: Site, counted: voting.Results, t: Translator) -> str | None:
    """A confirmed Equal Shares result explains itself as the chat does (issue 23); worked
    out once per count and language."""
    if counted.state is not voting.ResultState.FINAL or counted.rule not in MES_RULES:
        return None
    key = (counted.heading_id, t.language)
    cached = _EXPLAINED.get(key)
    if cached is None or cached[0] != id(counted):
        found = await voting.explain_result(site.services.db, counted.heading_id, 0, None, ())
        if isinstance(found, voting.Refusal):
            return None
        titles = {item.key: item.title_in(t.language) for item in found.heading.items}
        text = explanation_text(t, found.heading.name(t.language), found.explanation, titles)
        cached = _EXPLAINED[key] = (id(counted), text)
    return cached[1]


_CHARTS: dict[tuple[int, str], tuple[int, bytes]] = {}


async def results_chart_png(request: Request) -> Response:
    """The results chart (bot/charts.py) in the reader's language, drawn once per count."""
    site = site_of(request)
    t = site.public_translator(request)
    heading_id = parse_id(request.path_params["id"])
    counted = await site.results(heading_id) if heading_id is not None else None
    if counted is None or not counted.where.heading.items:
        return not_found(request, t)
    key = (counted.heading_id, t.language)
    cached = _CHARTS.get(key)
    if cached is None or cached[0] != id(counted):
        refused = await limited(request)
        if refused is not None:
            return refused
        where = counted.where
        heading = where.heading
        projects = [
            ChartProject(i.key, i.title_in(t.language), counted.votes.get(i.key, 0.0), i.cost)
            for i in heading.items
        ]
        title = f"{where.programme.name.get(t.language)}\n{heading.name(t.language)}"
        final = counted.state is voting.ResultState.FINAL
        figure = await asyncio.to_thread(
            lambda: png(
                results_figure(
                    t, title, projects, counted.selected, heading.budget or 0, not final,
                    counted.counted_at,
                )
            )
        )  # fmt: skip
        cached = _CHARTS[key] = (id(counted), figure)
    return Response(cached[1], media_type="image/png", headers={"Cache-Control": "max-age=15"})


async def results_pb(request: Request) -> Response:
    site = site_of(request)
    heading_id = parse_id(request.path_params["id"])
    counted = await site.results(heading_id) if heading_id is not None else None
    if counted is None or counted.state not in (
        voting.ResultState.CLOSED,
        voting.ResultState.FINAL,
    ):
        return not_found(request)
    refused = await limited(request)
    if refused is not None:
        return refused
    try:
        instance = await voting.pabulib_instance(site.services.db, counted.heading_id)
    except ValueError:
        return not_found(request)
    where = counted.where
    name = f"{where.programme.key}_{where.stage.key}_{where.heading.key}.pb"
    return PlainTextResponse(
        write_pabulib(instance),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- panel draws -----------------------------------------------------------------------------
async def draw_record(request: Request) -> tuple[int, Programme, DrawRecord] | None:
    site = site_of(request)
    programme_id = parse_id(request.path_params["id"])
    if programme_id is None:
        return None
    async with site.services.db.reading() as session:
        found = await panels.draw_record(session, programme_id)
    return None if found is None else (programme_id, *found)


async def draw_page(request: Request) -> Response:
    site = site_of(request)
    t = site.public_translator(request)
    found = await draw_record(request)
    if found is None:
        return not_found(request, t)
    programme_id, programme, record = found
    try:
        chances = await panels.selection_probabilities(record)
    except SortitionError:
        chances = {}
    selected = set(record.selected)
    reserve = {name: number for number, name in enumerate(record.reserve, 1)}
    applicants = sorted(record.pool, key=lambda a: a.id)
    return site.render(
        request,
        "draw.html",
        t,
        programme_id=programme_id,
        programme=programme,
        record=record,
        command=panels.draw_command(record),
        applicants=applicants,
        chances=chances,
        selected=selected,
        reserve=reserve,
        features=sorted({f for a in record.pool for f in a.features}),
    )


async def draw_file(request: Request) -> Response:
    found = await draw_record(request)
    if found is None:
        return not_found(request)
    refused = await limited(request)
    if refused is not None:
        return refused
    _, programme, record = found
    name = request.path_params["file"]
    if name == "pool.csv":
        return Response(panels.pool_csv(record), media_type=CSV)
    if name == "quotas.csv":
        return Response(panels.quotas_csv(record), media_type=CSV)
    return Response(panels.result_json(programme, record), media_type="application/json")


# -- waste-report statistics -----------------------------------------------------------------
async def waste_page(request: Request) -> Response:
    site = site_of(request)
    t = site.public_translator(request)
    stats = await waste.public_statistics(site.services.db)
    return site.render(
        request,
        "waste.html",
        t,
        stats=stats,
        statuses=[(t.gettext(waste.STATUS_LABELS[s]), stats.by_status[s]) for s in WasteStatus],
    )


async def waste_chart_png(request: Request) -> Response:
    site = site_of(request)
    refused = await limited(request)
    if refused is not None:
        return refused
    t = site.public_translator(request)
    stats = await waste.public_statistics(site.services.db)
    png = await asyncio.to_thread(render_chart, stats, t.language)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=60"})


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")

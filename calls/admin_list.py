"""The calls list of the console (issue 12, item 3): columns that fit 1366 px, cheap filters, search by number,
operator or words said. CallAdmin (calls/admin.py) mixes it in; the change view, upload and actions live there."""

import zoneinfo

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from calls.admin_filters import (
    CappedCountPaginator,
    ChecklistFilter,
    DateRangeFilter,
    FlagFilter,
    LanguageFilter,
    OperatorFilter,
    ScoreBandFilter,
    request_company,
    request_zone,
    review_state_field,
    score_band,
)
from calls.models import Call, Direction, Transcript
from calls.selectors import TranscriptHit, call_search, call_search_hits, call_search_kind

HIT_CONTEXT_CHARS = 160  # enough of a long turn to read the words around the hit on one or two lines


def mmss(seconds: float | int | None) -> str:
    if seconds is None:
        return "—"
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _transcript(call: Call) -> Transcript | None:
    try:
        return call.transcript
    except Transcript.DoesNotExist:
        return None


def _excerpt(text: str, term: str) -> str:
    """The part of a long turn around the first searched word."""
    if len(text) <= HIT_CONTEXT_CHARS:
        return text
    words = [w for w in term.lower().split() if w]
    at = min((i for i in (text.lower().find(w) for w in words) if i >= 0), default=0)
    start = max(0, at - HIT_CONTEXT_CHARS // 3)
    piece = text[start : start + HIT_CONTEXT_CHARS]
    return ("…" if start else "") + piece + ("…" if start + HIT_CONTEXT_CHARS < len(text) else "")


def _list_filters() -> list:
    filters: list = [
        OperatorFilter,
        ChecklistFilter,
        ScoreBandFilter,
        LanguageFilter,
        DateRangeFilter,
        "direction",
        "status",  # a choices field: listed without a query
        FlagFilter,
    ]
    review = review_state_field()
    return [*filters, *([review] if review else []), "source", "failure_code"]


class CallListMixin:
    """The changelist parts of CallAdmin. Queries per page are constant (see calls/tests/test_calls_list.py)."""

    list_display = [
        "started",
        "operator_name",
        "direction_short",
        "customer",
        "duration",
        "language_code",
        "score_badge",
        "flags",
        "status_badge",
    ]
    list_display_links = ["started"]
    list_select_related = ["operator", "company", "transcript"]
    list_per_page = 50
    list_max_show_all = 0  # "Show all" on a million calls is never what a supervisor wants
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts are a COUNT per choice over the filtered calls
    paginator = CappedCountPaginator
    date_hierarchy = None  # two date queries per page on the whole table; the date filter has a calendar instead
    search_fields = ["customer_phone"]  # shows the search box; get_search_results does the real work
    search_help_text = _(
        "A customer number in any form (+998 90 123 45 67, 90 123 45 67), an operator's name, "
        "or words said in the call."
    )
    change_list_template = "admin/calls/call/change_list.html"
    list_filter = _list_filters()

    def get_list_display(self, request: HttpRequest):
        fields = list(super().get_list_display(request))
        term = request.GET.get("q", "").strip()
        if term and call_search_kind(term=term) == "text":
            fields.append("transcript_hit")
        return fields

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        calls, on_transcript = call_search(calls=queryset, company=request_company(request), term=search_term)
        request.dlx_search_on_transcript = on_transcript
        return calls, False  # semi-joins only: no row is repeated, so no DISTINCT over the list

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "dlx_zone": str(request_zone(request))}
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None and getattr(request, "dlx_search_on_transcript", False):
            page = list(cl.result_list)  # evaluated once here; the template reuses the same objects
            hits = call_search_hits(call_ids=[call.pk for call in page], term=cl.query)
            for call in page:
                hit = hits.get(call.pk)
                call.dlx_hit = None if hit is None else (hit, _excerpt(hit.text, cl.query))
        return response

    @admin.display(description=_("Time"), ordering="started_at")
    def started(self, obj: Call) -> str:
        zone = zoneinfo.ZoneInfo(obj.company.time_zone)
        local = timezone.localtime(obj.started_at, zone)
        this_year = local.year == timezone.localtime(timezone=zone).year
        short = "j M, H:i" if this_year else "j M Y, H:i"  # the year only for another year's calls
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            obj.started_at.isoformat(),
            f"{dateformat.format(local, 'l, j F Y, H:i:s')} ({zone.key})",
            dateformat.format(local, short),
        )

    @admin.display(description=_("Operator"), ordering="operator__name")
    def operator_name(self, obj: Call) -> str:
        return obj.operator.name if obj.operator else "—"

    @admin.display(description=_("Dir."), ordering="direction")
    def direction_short(self, obj: Call) -> str:
        inbound = obj.direction == Direction.INBOUND
        return format_html(
            '<span class="dlx-dir" title="{}">{}</span>', obj.get_direction_display(), _("in") if inbound else _("out")
        )

    @admin.display(description=_("Customer"), ordering="customer_phone")
    def customer(self, obj: Call) -> str:
        return obj.customer_phone or obj.customer_phone_raw or "—"

    @admin.display(description=_("Length"), ordering="duration_seconds")
    def duration(self, obj: Call) -> str:
        return mmss(obj.duration_seconds)

    @admin.display(description=_("Lang."), ordering="language")
    def language_code(self, obj: Call) -> str:
        return obj.language or "—"

    @admin.display(description=_("Score"), ordering="score")
    def score_badge(self, obj: Call) -> str:
        transcript = _transcript(obj)
        if obj.score is None and transcript is not None and transcript.low_confidence:
            return format_html(
                '<span class="dlx-score dlx-band-none" data-testid="score" title="{}">{}</span>',
                _("The transcript is not reliable: route this language to a better engine in Engine settings."),
                _("not scored"),
            )
        if obj.score is None:
            return "—"
        return format_html(
            '<span class="dlx-score dlx-band-{}" data-testid="score">{}</span>', score_band(obj.score), round(obj.score)
        )

    @admin.display(description=_("Flags"))
    def flags(self, obj: Call) -> str:
        transcript = _transcript(obj)
        low_confidence = transcript is not None and transcript.low_confidence
        reviewed = getattr(obj, "review_state", None) == "reviewed"  # the review workflow's field, once it exists
        shown = [
            ("fail", _("auto-fail"), _("A critical item was not met"), obj.auto_fail),
            ("review", _("review"), _("Needs review: some evidence could not be verified"), obj.needs_review),
            ("lowconf", _("low conf."), _("Low-confidence transcript"), low_confidence),
            ("reviewed", _("reviewed"), _("A supervisor reviewed this call"), reviewed),
        ]
        on = ((key, title, text) for key, text, title, is_on in shown if is_on)
        return format_html_join("", '<span class="dlx-flag dlx-flag-{}" title="{}">{}</span>', on)

    @admin.display(description=_("Said in the call"))
    def transcript_hit(self, obj: Call) -> str:
        found: tuple[TranscriptHit, str] | None = getattr(obj, "dlx_hit", None)
        if found is None:
            return ""
        hit, excerpt = found
        return format_html(
            '<div class="dlx-hit" data-testid="transcript-hit"><a href="{}#t={}" class="dlx-hit-time">{}</a> '
            '<span class="dlx-hit-speaker">{}</span> <q>{}</q></div>',
            reverse("admin:calls_call_change", args=[obj.pk]),
            hit.start_ms // 1000,
            mmss(hit.start_ms / 1000),
            _("Operator") if hit.speaker == "operator" else _("Customer"),
            excerpt,
        )

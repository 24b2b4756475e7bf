"""The calls list of the console (issue 12, item 3): columns that fit 1366 px, cheap filters, search by number,
operator or words said. CallAdmin (calls/admin.py) mixes it in; the change view, upload and actions live there."""

import zoneinfo
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from calls.admin_filters import (
    CappedCountPaginator,
    ChecklistFilter,
    DateRangeFilter,
    DealOutcomeFilter,
    DealStageFilter,
    FlagFilter,
    ItemResultFilter,
    LanguageFilter,
    OperatorFilter,
    OutcomeFilter,
    PurposeFilter,
    ScoreBandFilter,
    SentimentFilter,
    TopicFilter,
    WeekHourFilter,
    request_company,
    request_zone,
    score_band,
)
from calls.models import Call, CrmLinkState, Direction, ReviewState, Transcript
from calls.selectors import TranscriptHit, call_search, call_search_hits, call_search_kind

HIT_CONTEXT_CHARS = 160  # enough of a long turn to read the words around the hit on one or two lines
TRANSCRIPT_PER_PAGE = 25  # a transcript search's page: each row also shows its turn (one more query over the page)


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


class TranscriptSearchPaginator(Paginator):
    """A transcript search's pages, never counted. Counting the calls that said a common word reads thousands of
    utterances through the full-text index (most of the list's time on the 1M-call bench, even capped at 1,000);
    instead the page reads one row more than it shows, which says whether a next page exists. So the list shows
    "previous / next" and, while there are more, asks to refine the words. On the last page the count is exact
    (the rows before it plus the ones read), and a search with a single page says how many calls it found."""

    is_uncounted = True
    is_capped = False

    def __init__(self, object_list, per_page: int, *, page_num: int) -> None:
        super().__init__(object_list, per_page)
        self.page_num = page_num

    @cached_property
    def _offset(self) -> int:
        return max(0, (self.page_num - 1) * self.per_page)

    @cached_property
    def rows(self) -> list:
        """This page's calls and the first of the next page, if any (one query)."""
        return list(self.object_list[self._offset : self._offset + self.per_page + 1])

    @property
    def page_rows(self) -> list:
        return self.rows[: self.per_page]

    @property
    def has_more(self) -> bool:
        return len(self.rows) > self.per_page

    @cached_property
    def count(self) -> int:
        # What this page knows: exact on the last page, "at least" (one past this page) while there are more.
        return self._offset + len(self.rows)

    def page(self, number):
        number = self.validate_number(number)
        return self._get_page(self.page_rows, number, self)


class CallChangeList(ChangeList):
    """The admin's changelist, except that a transcript search pages with TranscriptSearchPaginator: 25 rows, no
    count, and the rows the paginator read are the page (no second query for them)."""

    def get_results(self, request: HttpRequest) -> None:
        on_transcript = getattr(request, "dlx_search_on_transcript", False)  # set by get_search_results, just before
        if on_transcript:
            self.list_per_page = TRANSCRIPT_PER_PAGE
        super().get_results(request)
        self.dlx_previous_url = self.dlx_next_url = None
        if isinstance(self.paginator, TranscriptSearchPaginator):
            self.result_list = self.paginator.page_rows
            if self.page_num > 1:
                self.dlx_previous_url = self.get_query_string({PAGE_VAR: self.page_num - 1})
            if self.paginator.has_more:
                self.dlx_next_url = self.get_query_string({PAGE_VAR: self.page_num + 1})


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
    # The dashboard's drill-downs (issue 15): outcome, sentiment; the others show only while a link sets them.
    drills = [OutcomeFilter, SentimentFilter, WeekHourFilter, ItemResultFilter, PurposeFilter, TopicFilter]
    drills.append(DealStageFilter)  # the CRM deal's stage (issue 14), set from the list's stage links
    return [*filters, DealOutcomeFilter, "review_state", "source", "failure_code", *drills]


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

    def get_changelist(self, request: HttpRequest, **kwargs):
        return CallChangeList

    def get_paginator(self, request: HttpRequest, queryset, per_page, orphans=0, allow_empty_first_page=True):
        if getattr(request, "dlx_search_on_transcript", False):
            try:
                page_num = int(request.GET.get(PAGE_VAR, 1))
            except ValueError:
                page_num = 1
            return TranscriptSearchPaginator(queryset, TRANSCRIPT_PER_PAGE, page_num=page_num)
        return super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)

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
        """The number and, under it, the CRM's client and deal (one column: the list fits a laptop's screen)."""
        number = obj.customer_phone or obj.customer_phone_raw or "—"
        crm = self.crm(obj)
        return format_html("{}<br>{}", number, crm) if crm else number

    def crm(self, obj: Call) -> str:
        """The client and the deal (stage, won/lost) from the call's own fields: no query."""
        if obj.crm_link_state == CrmLinkState.NO_MATCH:
            return format_html('<span class="dlx-crm dlx-crm-none" data-testid="crm">{}</span>', _("no match"))
        if obj.crm_link_state != CrmLinkState.LINKED:
            return ""
        if not obj.crm_deal_id:
            return format_html('<span class="dlx-crm" data-testid="crm">{}</span>', obj.crm_client_name)
        return format_html(
            '<span class="dlx-crm" data-testid="crm">{}<br><a href="?{}" title="{}">{}</a> '
            '<span class="dlx-deal dlx-deal-{}">{}</span></span>',
            obj.crm_client_name,
            urlencode({"deal_stage": obj.crm_deal_stage_name}),
            _("Calls whose deal is at this stage"),
            obj.crm_deal_stage_name,
            obj.crm_deal_semantic,
            obj.get_crm_deal_semantic_display(),
        )

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
        reviewed = obj.review_state == ReviewState.REVIEWED
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

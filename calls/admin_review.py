"""The review workflow in the console (issue 12): the review queue page, Claim / Mark reviewed / Release / Next, and
coaching notes, as a mixin of CallAdmin (its URLs sit under /admin/calls/call/) plus the coaching notes' admin.

Analysts (view-only on calls) see the queue and the review state but no buttons; their crafted POST is refused (403).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calls.models import Call, CoachingNote, ReviewState
from calls.services.review import (
    CLAIM_TTL,
    CoachingNoteInvalid,
    ReviewNotPossible,
    coaching_note_add,
    parse_moment,
    review_claim,
    review_claim_next,
    review_mark_reviewed,
    review_queue,
    review_release,
)
from companies.admin import CompanyScopedAdmin
from companies.services import company_review_sample_set
from companies.tenancy import company_for

QUEUE_PAGE_SIZE = 100
COUNT_CAP = 10_000
REASONS = {
    "auto_fail": _("auto-fail"),
    "needs_review": _("needs review"),
    "low_confidence": _("low confidence"),
    "sample": _("random sample"),
}


def clock(milliseconds: int) -> str:
    minutes, seconds = divmod(int(milliseconds) // 1000, 60)
    return f"{minutes}:{seconds:02d}"


class CallReviewMixin:
    """Mixed into CallAdmin before the list mixin: adds the review URLs and the review context of the call page."""

    def _member_company(self, request: HttpRequest):
        if request.user.is_superuser:
            raise PermissionDenied(gettext("Log in as a member of the company to review its calls."))
        return company_for(request)

    def _may_review(self, request: HttpRequest) -> bool:
        return not request.user.is_superuser and self.has_change_permission(request)

    def _post_target(self, request: HttpRequest, object_id: str) -> Call:
        if not self._may_review(request):
            raise PermissionDenied(gettext("Your role cannot review calls."))
        call = self.get_object(request, object_id)
        if call is None:
            raise Http404
        return call

    def _back(self, request: HttpRequest, call: Call):
        if request.POST.get("next") == "queue":
            return HttpResponseRedirect(reverse("admin:calls_call_review_queue"))
        return HttpResponseRedirect(reverse("admin:calls_call_change", args=[call.pk]))

    # --- the call page ---------------------------------------------------------------------------------------------

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        call = self.get_object(request, object_id)
        if call is not None:
            extra_context = {**(extra_context or {}), **self._review_state_context(request, call)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _review_state_context(self, request: HttpRequest, call: Call) -> dict:
        notes = list(CoachingNote.objects.for_company(call.company).filter(call=call).select_related("author"))
        for note in notes:
            note.clock = None if note.at_ms is None else clock(note.at_ms)
            note.seconds = None if note.at_ms is None else f"{note.at_ms / 1000:.2f}"
        user = request.user
        may = self._may_review(request)
        held_by_me = call.review_state == ReviewState.IN_REVIEW and call.review_claimed_by_id == user.pk
        claim_stale = (
            call.review_state == ReviewState.IN_REVIEW
            and call.review_claimed_at is not None
            and call.review_claimed_at < timezone.now() - CLAIM_TTL
        )
        free = call.review_state == ReviewState.NOT_REVIEWED or held_by_me or claim_stale
        return {
            "review": {
                "state": call.review_state,
                "label": call.get_review_state_display(),
                "claimed_by": call.review_claimed_by,
                "claimed_at": call.review_claimed_at,
                "reviewed_by": call.reviewed_by,
                "reviewed_at": call.reviewed_at,
                "can_claim": may and (call.review_state == ReviewState.NOT_REVIEWED or claim_stale),
                "can_mark": may and free and call.review_state != ReviewState.REVIEWED,
                "can_release": may and held_by_me,
                "can_note": may,
                "queue_url": reverse("admin:calls_call_review_queue"),
                "claim_url": reverse("admin:calls_call_review_claim", args=[call.pk]),
                "done_url": reverse("admin:calls_call_review_done", args=[call.pk]),
                "release_url": reverse("admin:calls_call_review_release", args=[call.pk]),
                "next_url": reverse("admin:calls_call_review_next"),
                "note_url": reverse("admin:calls_call_note_add", args=[call.pk]),
            },
            "coaching_notes": notes,
        }

    # --- POST endpoints --------------------------------------------------------------------------------------------

    def review_claim_view(self, request: HttpRequest, object_id: str):
        return self._review_action(request, object_id, review_claim, gettext("You are reviewing this call."))

    def review_done_view(self, request: HttpRequest, object_id: str):
        return self._review_action(request, object_id, review_mark_reviewed, gettext("Marked reviewed."))

    def review_release_view(self, request: HttpRequest, object_id: str):
        return self._review_action(request, object_id, review_release, gettext("Released: someone else may review it."))

    def _review_action(self, request: HttpRequest, object_id: str, service, done: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        call = self._post_target(request, object_id)
        try:
            service(company=call.company, call_id=call.pk, by=request.user)
        except ReviewNotPossible as exc:
            self.message_user(request, gettext("Not done: %(why)s") % {"why": exc.message}, messages.ERROR)
        else:
            self.message_user(request, done)
        return self._back(request, call)

    def review_next_view(self, request: HttpRequest):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self._may_review(request):
            raise PermissionDenied(gettext("Your role cannot review calls."))
        company = self._member_company(request)
        call = review_claim_next(company=company, by=request.user)
        if call is None:
            self.message_user(request, gettext("The review queue is empty: nothing left to claim."), messages.INFO)
            return HttpResponseRedirect(reverse("admin:calls_call_review_queue"))
        self.message_user(request, gettext("You are reviewing this call."))
        return HttpResponseRedirect(reverse("admin:calls_call_change", args=[call.pk]))

    def note_add_view(self, request: HttpRequest, object_id: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        call = self._post_target(request, object_id)
        try:
            at_ms = parse_moment(request.POST.get("at", ""))
        except ValueError:
            self.message_user(
                request,
                gettext("Not saved: write the moment as m:ss (e.g. 1:05) or leave it empty."),
                messages.ERROR,
            )
            return self._back(request, call)
        try:
            coaching_note_add(
                company=call.company,
                call_id=call.pk,
                author=request.user,
                text=request.POST.get("text", ""),
                at_ms=at_ms,
            )
        except CoachingNoteInvalid as exc:
            self.message_user(request, gettext("Not saved: %(why)s") % {"why": exc.message}, messages.ERROR)
        else:
            self.message_user(request, gettext("Coaching note saved; the operator will read it."))
        url = reverse("admin:calls_call_change", args=[call.pk])
        return HttpResponseRedirect(f"{url}#dlx-notes")

    # --- the queue page --------------------------------------------------------------------------------------------

    def review_queue_view(self, request: HttpRequest):
        if not self.has_view_permission(request):
            raise PermissionDenied
        company = self._member_company(request)
        may = self._may_review(request)
        is_owner = request.user.has_perm("companies.change_membership")
        if request.method == "POST":
            if not is_owner:
                raise PermissionDenied(gettext("Only an owner sets the review sample."))
            try:
                company_review_sample_set(company=company, percent=int(request.POST.get("sample_percent", "")))
            except ValueError:
                self.message_user(request, gettext("The sample is a whole percent, 0 to 100."), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Review sample set to %(percent)s%% of each operator's calls.")
                    % {"percent": company.review_sample_percent},
                )
            return HttpResponseRedirect(reverse("admin:calls_call_review_queue"))
        queue = review_queue(company=company)
        rows = list(queue[:QUEUE_PAGE_SIZE])
        for row in rows:
            row.reason_label = REASONS[row.queue_reason]
            row.duration_clock = clock(row.duration_seconds * 1000)
            row.mine = row.review_claimed_by_id == request.user.pk
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Review queue"),
            "opts": self.model._meta,
            "rows": rows,
            # Counted up to a cap: a backlog of a million calls is "10000+", not a count of a million rows.
            "total": queue[:COUNT_CAP].count() if len(rows) == QUEUE_PAGE_SIZE else len(rows),
            "count_cap": COUNT_CAP,
            "page_size": QUEUE_PAGE_SIZE,
            "can_review": may,
            "is_owner": is_owner,
            "sample_percent": company.review_sample_percent,
            "time_zone": timezone.get_current_timezone_name(),
            "next_url": reverse("admin:calls_call_review_next"),
        }
        return TemplateResponse(request, "admin/calls/call/review_queue.html", context)

    def get_urls(self):
        site = self.admin_site
        return [
            path("review-queue/", site.admin_view(self.review_queue_view), name="calls_call_review_queue"),
            path("review-queue/next/", site.admin_view(self.review_next_view), name="calls_call_review_next"),
            path(
                "<path:object_id>/review/claim/",
                site.admin_view(self.review_claim_view),
                name="calls_call_review_claim",
            ),
            path(
                "<path:object_id>/review/done/", site.admin_view(self.review_done_view), name="calls_call_review_done"
            ),
            path(
                "<path:object_id>/review/release/",
                site.admin_view(self.review_release_view),
                name="calls_call_review_release",
            ),
            path("<path:object_id>/notes/add/", site.admin_view(self.note_add_view), name="calls_call_note_add"),
            *super().get_urls(),
        ]


@admin.register(CoachingNote)
class CoachingNoteAdmin(CompanyScopedAdmin):
    """Every coaching note of the company, for looking up; notes are written on the call's page."""

    list_display = ["call", "operator", "author", "moment", "text", "created_at"]
    list_select_related = ["call", "operator", "author", "company"]
    readonly_fields = ["call", "operator", "author", "moment", "text", "created_at"]
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description=_("Moment"))
    def moment(self, obj: CoachingNote) -> str:
        return "—" if obj.at_ms is None else clock(obj.at_ms)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

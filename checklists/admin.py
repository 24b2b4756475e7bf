from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from checklists.models import Checklist, ChecklistItem, ChecklistSection, ChecklistVersion, ItemResult
from checklists.services import OverrideInvalid, checklist_publish, item_result_override
from companies.admin import CompanyScopedAdmin, CompanyScopedInline
from companies.tenancy import company_for


class SectionInline(CompanyScopedInline):
    model = ChecklistSection
    fields = ["title", "order"]
    extra = 0


class ItemInline(CompanyScopedInline):
    model = ChecklistItem
    fields = ["section", "criterion", "weight", "is_critical", "allow_na", "speaker", "example_phrases", "order"]
    extra = 0

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        self._checklist = obj
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "section":
            # Only this checklist's sections (add sections first, save, then items).
            checklist = getattr(self, "_checklist", None)
            kwargs["queryset"] = (
                ChecklistSection.objects.filter(checklist=checklist) if checklist else ChecklistSection.objects.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("criterion", "example_phrases"):
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 40})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Checklist)
class ChecklistAdmin(CompanyScopedAdmin):
    list_display = ["name", "is_active", "directions", "latest_version", "updated_at"]
    list_select_related = ["company"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    filter_horizontal = ["operators"]
    inlines = [SectionInline, ItemInline]

    def get_queryset(self, request: HttpRequest):
        from django.db.models import Max

        return super().get_queryset(request).annotate(latest=Max("versions__number"))

    @admin.display(description="Version", ordering="latest")
    def latest_version(self, obj: Checklist) -> str:
        return f"v{obj.latest}" if obj.latest else "not published"

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        version = checklist_publish(checklist=form.instance, by=request.user)
        if version is not None:
            self.message_user(
                request,
                f"Published version {version.number} of “{form.instance.name}”: new calls are scored with it; "
                "calls scored earlier keep their version.",
            )


@admin.register(ChecklistVersion)
class ChecklistVersionAdmin(CompanyScopedAdmin):
    list_display = ["checklist", "number", "created_by", "created_at"]
    list_select_related = ["checklist", "created_by", "company"]
    readonly_fields = ["checklist", "number", "created_by", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # frozen: results refer to it


class OverrideForm(forms.ModelForm):
    new_answer = forms.ChoiceField(
        choices=[("met", "Met"), ("not_met", "Not met"), ("na", "Not applicable")], required=True
    )
    why = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=True, label="Reason")

    class Meta:
        model = ItemResult
        fields: list[str] = []


@admin.register(ItemResult)
class ItemResultAdmin(CompanyScopedAdmin):
    """Where a supervisor corrects one item's answer; the score is recomputed and the original kept."""

    form = OverrideForm
    list_display = ["call", "version_item", "answer", "source", "evidence_quote", "original_answer", "overridden_by"]
    list_select_related = ["call", "version_item", "overridden_by", "company"]
    list_filter = ["answer", "source"]
    show_full_result_count = False
    readonly_fields = [
        "call",
        "version_item",
        "answer",
        "source",
        "evidence_quote",
        "evidence_speaker",
        "evidence_ms",
        "reason",
        "original_answer",
        "original_source",
        "override_reason",
        "overridden_by",
        "overridden_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ItemResult, form, change: bool) -> None:
        company = obj.company if request.user.is_superuser else company_for(request)
        try:
            item_result_override(
                company=company,
                result_id=obj.pk,
                answer=form.cleaned_data["new_answer"],
                reason=form.cleaned_data["why"],
                by=request.user,
            )
        except OverrideInvalid as exc:
            self.message_user(request, f"Not changed: {exc.details}", messages.ERROR)

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from checklists.models import CALL_DIRECTIONS, Checklist, ChecklistItem, ChecklistSection, ChecklistVersion
from checklists.services import checklist_publish
from companies.admin import CompanyScopedAdmin, CompanyScopedInline


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
            # Only this checklist's sections (add sections first, save, then items); the base class adds the
            # company filter on top.
            checklist = getattr(self, "_checklist", None)
            kwargs["queryset"] = (
                ChecklistSection.objects.filter(checklist=checklist) if checklist else ChecklistSection.objects.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("criterion", "example_phrases"):
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 40})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ChecklistForm(forms.ModelForm):
    directions = forms.MultipleChoiceField(
        choices=CALL_DIRECTIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Call directions it applies to; none ticked: every call.",
    )

    class Meta:
        model = Checklist
        fields = ["company", "name", "description", "is_active", "directions", "operators"]


@admin.register(Checklist)
class ChecklistAdmin(CompanyScopedAdmin):
    form = ChecklistForm
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
        checklist = form.instance
        if not checklist.items.exists():
            self.message_user(
                request,
                f"“{checklist.name}” is a draft: it has no items, so it is not published and scores no call. "
                "Add sections, save, then add items.",
                messages.WARNING,
            )
            return
        version = checklist_publish(checklist=checklist, by=request.user)
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

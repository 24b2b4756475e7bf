"""The checklist builder: a checklist, its sections and items edited as a draft on one page, published explicitly
after a preview of what changed since the last version (only published versions score calls)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from checklists.models import CALL_DIRECTIONS, Checklist, ChecklistItem, ChecklistSection, ChecklistVersion
from checklists.services import (
    ChecklistChangedSincePreview,
    ChecklistEmpty,
    checklist_changes,
    checklist_publish,
    checklist_section_for_title,
)
from companies.admin import CompanyInlineFormSet, CompanyScopedAdmin, CompanyScopedInline

SECTION_TITLES_LIST = "dlx-section-titles"  # the <datalist> checklist_builder.js fills with the sections' titles


class SectionInline(CompanyScopedInline):
    model = ChecklistSection
    fields = ["title", "order"]
    extra = 0


class ItemForm(forms.ModelForm):
    section_title = forms.CharField(
        required=False,
        max_length=200,
        label=gettext_lazy("Section title"),
        help_text=gettext_lazy("Type a section's title to put the item there (a new title makes the section)."),
        widget=forms.TextInput(attrs={"list": SECTION_TITLES_LIST, "size": 12, "autocomplete": "off"}),
    )

    class Meta:
        model = ChecklistItem
        fields = ["section", "criterion", "weight", "is_critical", "allow_na", "speaker", "example_phrases", "order"]
        widgets = {
            "criterion": forms.Textarea(attrs={"rows": 2, "cols": 24}),
            "example_phrases": forms.Textarea(attrs={"rows": 2, "cols": 18}),
            "weight": forms.NumberInput(attrs={"min": 1, "class": "dlx-narrow"}),
            "order": forms.NumberInput(attrs={"min": 0, "class": "dlx-narrow"}),
        }
        labels = {
            "is_critical": gettext_lazy("Critical"),
            "allow_na": gettext_lazy("N/A allowed"),
            "example_phrases": gettext_lazy("Example phrases"),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["section"].required = False  # or a section title; clean() asks for one of them

    def clean(self) -> dict:
        cleaned = super().clean()
        cleaned["section_title"] = " ".join((cleaned.get("section_title") or "").split())
        if not cleaned.get("section") and not cleaned["section_title"]:
            self.add_error("section", _("Choose a section or type a section title."))
        return cleaned


class ItemFormSet(CompanyInlineFormSet):
    """Puts each item in the section its row names by title, creating the section when the checklist has none with
    that title. Runs after the section inline is saved, so a section added on the same page is found, not doubled."""

    def _place(self, form: ItemForm) -> None:
        title = form.cleaned_data.get("section_title")
        if title:
            form.instance.section = checklist_section_for_title(checklist=self.instance, title=title)

    def save_new(self, form, commit=True):
        self._place(form)
        return super().save_new(form, commit=commit)

    def save_existing(self, form, obj, commit=True):
        self._place(form)
        return super().save_existing(form, obj, commit=commit)


class ItemInline(CompanyScopedInline):
    model = ChecklistItem
    form = ItemForm
    formset = ItemFormSet
    fields = [
        "section",
        "section_title",
        "criterion",
        "weight",
        "is_critical",
        "allow_na",
        "example_phrases",
        "speaker",
        "order",
    ]
    extra = 0

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        self._checklist = obj
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "section":
            # Only this checklist's sections; the base class adds the company filter on top. A section that does not
            # exist yet is named in the row's section title instead.
            checklist = getattr(self, "_checklist", None)
            kwargs["queryset"] = (
                ChecklistSection.objects.filter(checklist=checklist) if checklist else ChecklistSection.objects.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ChecklistForm(forms.ModelForm):
    directions = forms.MultipleChoiceField(
        choices=CALL_DIRECTIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Call directions it applies to; none ticked: every call."),
    )

    class Meta:
        model = Checklist
        fields = ["company", "name", "description", "is_active", "directions", "operators"]


@admin.register(Checklist)
class ChecklistAdmin(CompanyScopedAdmin):
    form = ChecklistForm
    list_display = ["name", "is_active", "applies_to", "latest_version", "updated_at"]
    list_select_related = ["company"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    filter_horizontal = ["operators"]
    inlines = [SectionInline, ItemInline]

    class Media:
        css = {"all": ["console/checklist_builder.css"]}
        js = ["console/checklist_builder.js"]

    def get_queryset(self, request: HttpRequest):
        from django.db.models import Max

        return super().get_queryset(request).annotate(latest=Max("versions__number"))

    @admin.display(description=gettext_lazy("Version"), ordering="latest")
    def latest_version(self, obj: Checklist) -> str:
        return f"v{obj.latest}" if obj.latest else _("not published")

    @admin.display(description=gettext_lazy("Directions"))
    def applies_to(self, obj: Checklist) -> str:
        labels = dict(CALL_DIRECTIONS)
        chosen = obj.directions if isinstance(obj.directions, list) else []
        return ", ".join(str(labels.get(code, code)) for code in chosen) or _("All calls")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        publish = self.admin_site.admin_view(self.publish_view)
        publish.model_admin = self  # type: ignore[attr-defined]  # as Django's own admin views, for tests/isolation.py
        return [path("<path:object_id>/publish/", publish, name=f"{info[0]}_{info[1]}_publish"), *super().get_urls()]

    def render_change_form(self, request: HttpRequest, context: dict, add=False, change=False, form_url="", obj=None):
        context["checklist_changes"] = checklist_changes(checklist=obj) if obj is not None and obj.pk else None
        context["section_titles_list"] = SECTION_TITLES_LIST
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        checklist = form.instance
        changes = checklist_changes(checklist=checklist)
        if changes.item_count == 0:
            self.message_user(
                request,
                _(
                    "“%(checklist)s” is a draft: it has no items, so it cannot be published and scores no call. "
                    "Add items (each names its section), then publish."
                )
                % {"checklist": checklist.name},
                messages.WARNING,
            )
        elif changes.has_changes:
            if changes.latest_number:
                text = _(
                    "“%(checklist)s” is saved as a draft: calls are still scored with version %(version)s until you "
                    "publish it (Publish…)."
                )
            else:
                text = _(
                    "“%(checklist)s” is saved as a draft: no call is scored with it until you publish it (Publish…)."
                )
            self.message_user(
                request,
                text % {"checklist": checklist.name, "version": changes.latest_number},
                messages.WARNING,
            )

    def _wants_publish(self, request: HttpRequest, obj: Checklist) -> HttpResponse | None:
        if "_publish" not in request.POST:
            return None
        return HttpResponseRedirect(reverse("admin:checklists_checklist_publish", args=[obj.pk]))

    def response_add(self, request: HttpRequest, obj, post_url_continue=None):
        response = super().response_add(request, obj, post_url_continue)
        return self._wants_publish(request, obj) or response

    def response_change(self, request: HttpRequest, obj):
        response = super().response_change(request, obj)
        return self._wants_publish(request, obj) or response

    def publish_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: what publishing would change since the last version; POST (from that page): publishes."""
        checklist = self.get_object(request, unquote(object_id))
        if checklist is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, checklist):
            raise PermissionDenied
        change_url = reverse("admin:checklists_checklist_change", args=[checklist.pk])
        if request.method == "POST":
            try:
                version = checklist_publish(
                    checklist=checklist, by=request.user, expected_fingerprint=request.POST.get("fingerprint", "")
                )
            except ChecklistEmpty as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(change_url)
            except ChecklistChangedSincePreview as exc:
                self.message_user(request, exc.message, messages.WARNING)
                return HttpResponseRedirect(request.path)
            if version is None:
                latest = checklist_changes(checklist=checklist).latest_number
                self.message_user(
                    request,
                    _("Nothing changed since version %(version)s: no new version was made.") % {"version": latest},
                )
            else:
                self.message_user(
                    request,
                    _(
                        "Published version %(version)s of “%(checklist)s”: new calls are scored with it; "
                        "calls scored earlier keep their version."
                    )
                    % {"version": version.number, "checklist": checklist.name},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Publish “%(checklist)s”") % {"checklist": checklist.name},
            "subtitle": None,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "original": checklist,
            "changes": checklist_changes(checklist=checklist),
            "change_url": change_url,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/checklists/checklist/publish.html", context)


@admin.register(ChecklistVersion)
class ChecklistVersionAdmin(CompanyScopedAdmin):
    list_display = ["checklist", "number", "created_by", "created_at"]
    list_select_related = ["checklist", "created_by", "company"]
    readonly_fields = ["checklist", "number", "created_by", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # frozen: results refer to it

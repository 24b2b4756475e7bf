"""Tenant-isolation harness: discovers every URL in the URLconf and proves one company never sees another's rows.

How it works: two companies get one object of every tenant-owned model, each object carrying its company's marker
text. Every URL pattern is expanded with the *other* company's ids (and every app label, content type ...), then
requested as company A's supervisor and analyst (pages, admin) and with A's API token (API). A response that is 200
must not contain B's marker; an admin change/delete/history view of B's object must not be 200 at all.

A URL pattern with a parameter the harness cannot fill fails the suite: teach `_candidates` about it, so that an
endpoint added later is never silently skipped. A tenant model without a builder in BUILDERS fails too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver

from companies.models import Company, Membership
from companies.tenancy import CompanyOwned

MARKER_A = "ZZALPHA"
MARKER_B = "ZZBRAVO"


@dataclass
class Route:
    regex: str  # full regex of the route, from the URLconf root
    params: list[str]
    callback: Callable
    name: str | None

    @property
    def model_admin(self) -> admin.ModelAdmin | None:
        return getattr(self.callback, "model_admin", None)

    @property
    def is_api(self) -> bool:
        return self.regex.startswith("api/")


def _pattern_regex(pattern) -> str:
    regex = pattern.pattern.regex.pattern
    return regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")


def iter_routes(patterns=None, prefix: str = "") -> Iterator[Route]:
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        regex = prefix + _pattern_regex(entry)
        if isinstance(entry, URLResolver):
            yield from iter_routes(entry.url_patterns, regex)
        elif isinstance(entry, URLPattern):
            params = list(re.compile(regex).groupindex)
            yield Route(regex=regex, params=params, callback=entry.callback, name=entry.name)


def tenant_models() -> list[type[models.Model]]:
    from companies.models import AuditEntry  # the audit trail: not CompanyOwned (auditlog's model), but a company's

    owned = [m for m in apps.get_models() if issubclass(m, CompanyOwned)]
    return [*owned, Membership, AuditEntry]


@dataclass
class TenantData:
    company: Company
    objects: dict[type[models.Model], list[models.Model]] = field(default_factory=dict)

    def ids(self, model: type[models.Model] | None = None) -> list[str]:
        chosen = [model] if model else list(self.objects)
        return sorted({str(obj.pk) for m in chosen for obj in self.objects.get(m, [])})


def _fill(regex: str, values: dict[str, str]) -> str:
    """Turns a full route regex into a concrete path by replacing each named group with its value."""
    path = regex
    for name, value in values.items():
        path = re.sub(r"\(\?P<" + re.escape(name) + r">(?:[^()]|\([^()]*\))*\)", value, path, count=1)
    path = path.replace("\\", "")
    if re.search(r"[()?*+\[\]^$]", path):
        raise AssertionError(f"isolation harness cannot build a path from {regex!r}: unsupported regex syntax")
    return "/" + path


def _candidates(route: Route, param: str, other: TenantData) -> list[str]:
    model_admin = route.model_admin
    if param in {"object_id", "pk", "id"}:
        if model_admin is not None:
            return other.ids(model_admin.model) or ["0"]
        return other.ids()
    if param == "app_label":
        return sorted({m._meta.app_label for m in admin.site._registry})
    if param == "content_type_id":
        return [str(ContentType.objects.get_for_model(m).pk) for m in other.objects]
    if param == "url":  # the admin's catch-all that redirects unknown admin URLs
        return ["no-such-page/"]
    if param == "secret":  # the PBX webhook: POST only, authenticated by the secret itself
        return ["pbxhook_not-a-real-secret"]
    if param == "format":
        return [".json"]
    if param == "result_id":  # an item of a call's scorecard (the review page's correct-in-place endpoint)
        from checklists.models import ItemResult

        return other.ids(ItemResult) or ["0"]
    if param == "uidb64":  # the set-password link: another company's person, with a token that is not theirs
        from django.utils.encoding import force_bytes
        from django.utils.http import urlsafe_base64_encode

        return [urlsafe_base64_encode(force_bytes(obj.user_id)) for obj in other.objects.get(Membership, [])] or ["MA"]
    if param == "token":
        return ["set-password", "not-a-token"]
    if param == "operator_id":  # an operator's figures (the dashboard and its aggregates, issue 15)
        from operators.models import Operator

        return other.ids(Operator) or ["0"]
    if param == "job_id":  # a dashboard export's status and file (issue 15)
        from analytics.models import ExportJob

        return other.ids(ExportJob) or ["0"]
    raise AssertionError(
        f"isolation harness does not know how to fill <{param}> in route {route.regex!r} ({route.name}); "
        "teach tests/isolation.py::_candidates so this endpoint is covered"
    )


def expand(route: Route, other: TenantData) -> list[str]:
    if not route.params:
        return [_fill(route.regex, {})]
    paths = [{}]
    for param in route.params:
        paths = [{**done, param: value} for done in paths for value in _candidates(route, param, other)]
    # content_type_id and object_id together: only pair each object with its own content type
    return sorted({_fill(route.regex, values) for values in paths})

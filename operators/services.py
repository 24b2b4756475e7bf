"""Writes of operators (the API's create / update / deactivate; the console edits them through its admin)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from companies.models import Company
from dialix.errors import DialixError
from operators.models import Operator

EDITABLE_FIELDS = ("name", "pbx_extension", "email", "is_active")


class OperatorExtensionTaken(DialixError):
    code, http_status = "invalid", 400
    default_message = "Invalid input."


def _extension_taken(*, company: Company, extension: str, exclude_id: int | None = None) -> bool:
    if not extension:
        return False
    return Operator.objects.for_company(company).filter(pbx_extension=extension).exclude(pk=exclude_id).exists()


def _save(operator: Operator) -> Operator:
    if _extension_taken(company=operator.company, extension=operator.pbx_extension, exclude_id=operator.pk):
        raise OperatorExtensionTaken(details={"pbx_extension": ["Another operator has this extension."]})
    try:
        with transaction.atomic():
            operator.save()
    except IntegrityError as exc:  # a concurrent save took the extension
        raise OperatorExtensionTaken(details={"pbx_extension": ["Another operator has this extension."]}) from exc
    return operator


def operator_create(*, company: Company, name: str, pbx_extension: str = "", email: str = "") -> Operator:
    return _save(Operator(company=company, name=name, pbx_extension=pbx_extension, email=email))


def operator_update(*, operator: Operator, **fields: object) -> Operator:
    """Changes the given fields (among EDITABLE_FIELDS) of the operator."""
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(f"{name} is not editable")
        setattr(operator, name, value)
    return _save(operator)


def operator_deactivate(*, operator: Operator) -> Operator:
    """The operator stays with their calls but is no longer offered for new ones (is_active false)."""
    operator.is_active = False
    operator.save(update_fields=["is_active", "updated_at"])
    return operator

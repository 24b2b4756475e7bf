"""django-filter FilterSets of the calls API. Every choice that names another row is limited to the request's company,
so another company's id answers exactly like a missing one (no existence oracle)."""

import django_filters

from calls.models import Call
from companies.tenancy import company_for
from operators.models import Operator


def _company_operators(request):
    if request is None:
        return Operator.objects.none()
    return Operator.objects.for_company(company_for(request))


class CallFilter(django_filters.FilterSet):
    operator = django_filters.ModelChoiceFilter(
        queryset=_company_operators, help_text="An operator id of your company."
    )

    class Meta:
        model = Call
        fields = ["status", "direction", "operator", "source"]

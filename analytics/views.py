from django.views.generic import TemplateView

from analytics.selectors import dashboard_summary
from companies.roles import DASHBOARD_ROLES
from companies.tenancy import CompanyMixin, RoleRequiredMixin


class DashboardHomeView(RoleRequiredMixin, CompanyMixin, TemplateView):
    template_name = "analytics/home.html"
    allowed_roles = DASHBOARD_ROLES

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["company"] = self.company
        context["summary"] = dashboard_summary(company=self.company)
        return context

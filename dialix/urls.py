from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from analytics.admin_usage import usage_admin_view
from dialix.health import healthz
from dialix.i18n import set_language
from dialix.metrics_view import metrics_view
from dialix.security import swagger_ui_view, two_factor

api_v1 = [
    path("", include("companies.urls")),
    path("", include("operators.urls")),
    path("", include("calls.urls")),
    path("", include("checklists.urls")),
    path("", include("integrations.webhooks.urls")),
    path("", include("analytics.urls_api")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:home", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus; a bearer token or an allowed network (settings)
    # Django's set_language (the language cookie) that also remembers the choice for the logged-in user.
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/usage/", usage_admin_view, name="admin-usage"),  # usage and cost (issue 16), before the admin's own
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", two_factor, name="two_factor"),  # TOTP enrolment and the code after the password
    # The one-time set-password link an owner gets for a person they add (companies.services.person_add).
    path(
        "accounts/set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(success_url=reverse_lazy("set_password_done")),
        name="set_password",
    ),
    path("accounts/set-password/done/", auth_views.PasswordResetCompleteView.as_view(), name="set_password_done"),
    path("dashboard/", include("analytics.urls")),
    path("calls/", include("calls.page_urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", swagger_ui_view(), name="swagger-ui"),  # its own CSP: inline styles only (dialix.security)
]

handler400 = "dialix.api_errors.json_or_html_400"
handler403 = "dialix.api_errors.json_or_html_403"
handler404 = "dialix.api_errors.json_or_html_404"
handler500 = "dialix.api_errors.json_or_html_500"

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dialix.health import healthz

api_v1 = [
    path("", include("companies.urls")),
    path("", include("operators.urls")),
    path("", include("calls.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:home", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", include("analytics.urls")),
    path("calls/", include("calls.page_urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

handler400 = "dialix.api_errors.json_or_html_400"
handler403 = "dialix.api_errors.json_or_html_403"
handler404 = "dialix.api_errors.json_or_html_404"
handler500 = "dialix.api_errors.json_or_html_500"

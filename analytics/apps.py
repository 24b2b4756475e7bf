from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from analytics.services import rollups_on_figures_changed
        from calls.signals import call_figures_changed

        call_figures_changed.connect(rollups_on_figures_changed, dispatch_uid="analytics-rollups")

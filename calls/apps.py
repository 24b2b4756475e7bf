from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = _("Calls")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls.usage import on_backfill_estimate_requested
        from integrations.signals import backfill_estimate_requested

        # The PBX admin's backfill page shows what a day of history costs (issue 16), without importing calls.
        backfill_estimate_requested.connect(on_backfill_estimate_requested, dispatch_uid="calls.usage.backfill")

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CompaniesConfig(AppConfig):
    name = "companies"
    verbose_name = _("Companies")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from companies.preferences import on_user_logged_in

        user_logged_in.connect(on_user_logged_in, dispatch_uid="companies.preferences.on_user_logged_in")
        from companies.audit import register_audited_models

        register_audited_models()  # the audit trail (issue 16)

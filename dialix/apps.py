from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class DialixAdminConfig(AdminConfig):
    default_site = "dialix.admin_site.DialixAdminSite"


class DialixConfig(AppConfig):
    """The project itself as an app: its management commands (demo_seed) live in dialix/management."""

    name = "dialix"
    label = "dialix"

    def ready(self) -> None:
        from dialix import security  # noqa: F401 - connects the idle-session stamp to user_logged_in

from django.contrib.admin.apps import AdminConfig


class DialixAdminConfig(AdminConfig):
    default_site = "dialix.admin_site.DialixAdminSite"

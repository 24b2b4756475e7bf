from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned


class Operator(CompanyOwned):
    """A call-centre agent as the PBX knows them (an extension), optionally linked to a Dialix login."""

    name = models.CharField(max_length=200, verbose_name=_("name"))
    pbx_extension = models.CharField(
        _("PBX extension"), max_length=64, blank=True, default="", help_text=_("PBX extension / user id, e.g. '101'.")
    )
    email = models.EmailField(blank=True, default="", verbose_name=_("email"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="operator",
        verbose_name=_("user"),
    )

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operators")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "pbx_extension"],
                condition=~Q(pbx_extension=""),
                name="operators_operator_unique_extension",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.pbx_extension})" if self.pbx_extension else self.name

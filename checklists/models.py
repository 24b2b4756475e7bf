from django.db import models

from companies.tenancy import CompanyOwned


class Checklist(CompanyOwned):
    """A company's scorecard. Sections, items and versions arrive with the analysis issue (#6)."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="checklists_checklist_unique_name")]

    def __str__(self) -> str:
        return self.name

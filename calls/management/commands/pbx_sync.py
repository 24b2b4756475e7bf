from django.core.management.base import BaseCommand, CommandError

from companies.models import Company


class Command(BaseCommand):
    help = "Reads a company's PBX now (in this process, or queued for a worker with --queue)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--company", required=True, help="Company slug")
        parser.add_argument("--queue", action="store_true", help="Queue the sync for a worker instead of running it")

    def handle(self, *args, **options) -> None:
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['company']!r}")
        if options["queue"]:
            from integrations.models import PbxAccount
            from integrations.services import pbx_sync_queue

            account = PbxAccount.objects.filter(company=company).first()
            if account is None:
                raise CommandError(f"{company.name} has no PBX account.")
            run = pbx_sync_queue(account=account, kind="manual")
            self.stdout.write(f"Sync of {company.name} queued (sync run {run.pk}).")
            return
        from calls.services.sync import pbx_sync_company

        run = pbx_sync_company(company_id=company.pk, kind="manual")
        self.stdout.write(
            f"{run.get_status_display()}: fetched {run.fetched}, created {run.created}, updated {run.updated}, "
            f"unchanged {run.skipped}. {run.error}"
        )

"""Celery entry points of the customers app: they take organization_id and ids, run in that
tenant (TenantTask) and call the import services."""

from celery import shared_task

from crm.celery import TenantTask
from crm.models import Organization
from customers import imports


@shared_task(base=TenantTask, acks_late=True)
def run_import(*, organization_id: int, import_job_id: int) -> str:
    """Import a started CSV job in batches; safe to deliver twice (a finished job is left
    alone, an interrupted one resumes after its last committed batch)."""
    organization = Organization.objects.get(pk=organization_id)
    return imports.import_job_run(organization=organization, job_id=import_job_id)


@shared_task(base=TenantTask, acks_late=True)
def check_import(*, organization_id: int, import_job_id: int) -> str:
    """Dry-run a mapped CSV job over the whole file, for the preview's totals."""
    organization = Organization.objects.get(pk=organization_id)
    return imports.import_job_dry_run(organization=organization, job_id=import_job_id)

"""Celery entry points of the tenancy app: they take organization_id and ids and call services."""

import hmac
import logging

from celery import shared_task

from crm.celery import TenantTask
from crm.models import Invitation
from crm.selectors import invitation_token_hash
from crm.services import invitation_send_email

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask)
def send_invitation_email(
    *, organization_id: int, invitation_id: int, token: str, base_url: str
) -> str:
    """E-mail an invitation's accept link. The raw token travels only in this task's arguments
    (the database keeps its hash), and must match the invitation it claims to belong to.

    Runs in the organization's tenant: another organization's invitation id finds nothing.
    """
    invitation = Invitation.objects.select_related("invited_by").filter(pk=invitation_id).first()
    if invitation is None:
        logger.warning(
            "Invitation %s not found in organization %s; no e-mail sent",
            invitation_id,
            organization_id,
        )
        return "missing"
    if not invitation.is_usable:
        return "unusable"
    if not hmac.compare_digest(invitation.token_hash, invitation_token_hash(token)):
        logger.warning("Token does not match invitation %s; no e-mail sent", invitation_id)
        return "bad-token"
    invitation_send_email(invitation=invitation, token=token, base_url=base_url)
    return "sent"

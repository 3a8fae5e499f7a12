"""Reads of outbound webhooks: admins (or keys with `webhooks:write`) of a company with the plan's
`webhooks` feature; anyone else is refused before a row is read."""

from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.webhooks.models import Delivery, Endpoint
from conversa.errors import NotFound, ValidationFailed
from tenants.limits import ensure_feature
from tenants.models import Company


def check_manage(actor) -> None:
    """403 for who may not manage webhooks, or when the company's plan has no webhooks."""
    permissions.check(actor, "webhooks.manage")
    ensure_feature(Company.objects.select_related("plan").get(schema_name=connection.schema_name),
                   "webhooks")


def endpoints_for(actor) -> QuerySet[Endpoint]:
    check_manage(actor)
    return Endpoint.objects.all()


def endpoint_get_for(actor, endpoint_id: int) -> Endpoint:
    endpoint = endpoints_for(actor).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(_("Webhook not found."))
    return endpoint


def deliveries_of(actor, endpoint_id: int, *, status: str | None = None) -> QuerySet[Delivery]:
    endpoint = endpoint_get_for(actor, endpoint_id)
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    if status:
        if status not in Delivery.Status.values:
            raise ValidationFailed(details=[{"field": "status", "message": _("Use one of: %(values)s.")
                                             % {"values": ", ".join(Delivery.Status.values)}}])
        deliveries = deliveries.filter(status=status)
    return deliveries


def delivery_get_for(actor, endpoint_id: int, delivery_id: int) -> Delivery:
    delivery = deliveries_of(actor, endpoint_id).filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(_("Delivery not found."))
    return delivery

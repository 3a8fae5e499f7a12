"""`/api/v1/webhooks`: outbound webhook endpoints, their delivery log, test sends and redelivery
(SPEC §12, §15.1). Admins only (API keys: `webhooks:write`); the plan middleware refuses every path
here without the plan's `webhooks` feature."""

import datetime as dt
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.webhooks import selectors, services
from apps.webhooks.payloads import EVENTS
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["webhooks"])


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    health: str
    consecutive_failures: int
    disabled_at: dt.datetime | None
    disabled_reason: str
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class WebhookWithSecretOut(WebhookOut):
    secret: str = Field(description="The signing secret. Shown once: store it now.")


class WebhookPage(Schema):
    items: list[WebhookOut]
    next_cursor: str | None


class WebhookIn(Schema):
    url: str = Field(description="http(s); private, loopback and metadata addresses are refused.")
    events: list[str] = Field(description="Any of: " + ", ".join(EVENTS))
    secret: str | None = Field(None, description="Generated when absent (16 to 200 characters).")
    description: str = ""


class WebhookPatch(Schema):
    url: str | None = None
    events: list[str] | None = None
    active: bool | None = None
    description: str | None = None
    rotate_secret: bool = Field(False, description="A new generated secret, returned once.")
    secret: str | None = Field(None, description="Set this secret instead of a generated one.")


class DeliveryOut(Schema):
    id: int
    delivery_id: str = Field(description="The `X-Conversa-Delivery` header and the body's `id`.")
    event: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    response_code: int | None
    request_excerpt: str
    response_excerpt: str
    duration_ms: int | None
    error: str
    payload: dict[str, Any]
    created_at: dt.datetime
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None

    @staticmethod
    def resolve_delivery_id(delivery):
        return str(delivery.key)


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    next_cursor: str | None


class DeliveryFilter(PageParams):
    status: str | None = None


def _with_secret(endpoint, secret: str) -> dict:
    return {**WebhookOut.from_orm(endpoint).dict(), "secret": secret}


@router.get("", response=WebhookPage)
def list_webhooks(request, page: Query[PageParams]):
    return page_of(selectors.endpoints_for(request.auth), page, ordering=("-id",))


@router.post("", response={201: WebhookWithSecretOut})
def create_webhook(request, payload: WebhookIn):
    endpoint, secret = services.endpoint_create(actor=request.auth, request=request, **payload.dict())
    return Status(201, _with_secret(endpoint, secret))


@router.get("/{int:webhook_id}", response=WebhookOut)
def get_webhook(request, webhook_id: int):
    return selectors.endpoint_get_for(request.auth, webhook_id)


@router.patch("/{int:webhook_id}", response={200: WebhookOut | WebhookWithSecretOut})
def update_webhook(request, webhook_id: int, payload: WebhookPatch):
    endpoint = selectors.endpoint_get_for(request.auth, webhook_id)
    endpoint, secret = services.endpoint_update(actor=request.auth, endpoint=endpoint, request=request,
                                                **payload.dict())
    return _with_secret(endpoint, secret) if secret else endpoint


@router.delete("/{int:webhook_id}", response={204: None})
def delete_webhook(request, webhook_id: int):
    endpoint = selectors.endpoint_get_for(request.auth, webhook_id)
    services.endpoint_delete(actor=request.auth, endpoint=endpoint, request=request)
    return Status(204, None)


@router.post("/{int:webhook_id}/test", response=DeliveryOut)
def test_webhook(request, webhook_id: int):
    endpoint = selectors.endpoint_get_for(request.auth, webhook_id)
    return services.endpoint_test(actor=request.auth, endpoint=endpoint)


@router.get("/{int:webhook_id}/deliveries", response=DeliveryPage)
def list_deliveries(request, webhook_id: int, filters: Query[DeliveryFilter]):
    deliveries = selectors.deliveries_of(request.auth, webhook_id, status=filters.status)
    return page_of(deliveries, filters, ordering=("-id",))


@router.get("/{int:webhook_id}/deliveries/{int:delivery_id}", response=DeliveryOut)
def get_delivery(request, webhook_id: int, delivery_id: int):
    return selectors.delivery_get_for(request.auth, webhook_id, delivery_id)


@router.post("/{int:webhook_id}/deliveries/{int:delivery_id}/redeliver", response=DeliveryOut)
def redeliver(request, webhook_id: int, delivery_id: int):
    delivery = selectors.delivery_get_for(request.auth, webhook_id, delivery_id)
    return services.delivery_redeliver(actor=request.auth, delivery=delivery)

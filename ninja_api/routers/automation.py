"""`/api/v1/automation-rules` (admins), `/api/v1/macros` and running a macro on a conversation."""

import datetime as dt
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.automation import selectors, services
from apps.automation.models import Macro
from apps.conversations.selectors import conversation_get_for
from ninja_api.pagination import PageParams, page_of
from ninja_api.routers.conversations import ConversationOut

rules_router = Router(tags=["automation"])
macros_router = Router(tags=["automation"])
conversation_macros_router = Router(tags=["automation"])


class RuleIn(Schema):
    name: Any = None
    event: Any = None
    conditions: Any = Field(default_factory=list, description="All must hold; see the README.")
    actions: Any = None
    active: Any = True
    position: Any = 0


class RulePatch(Schema):
    name: Any = None
    event: Any = None
    conditions: Any = None
    actions: Any = None
    active: Any = None
    position: Any = None


class RuleOut(Schema):
    id: int
    name: str
    event: str
    conditions: list[dict]
    actions: list[dict]
    active: bool
    position: int
    created_by_id: int | None
    run_count: int
    last_run_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class RulePage(Schema):
    items: list[RuleOut]
    next_cursor: str | None


class MacroIn(Schema):
    name: Any = None
    actions: Any = None
    visibility: Any = Macro.Visibility.PERSONAL


class MacroPatch(Schema):
    name: Any = None
    actions: Any = None
    visibility: Any = None


class MacroOut(Schema):
    id: int
    name: str
    actions: list[dict]
    visibility: str
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class MacroPage(Schema):
    items: list[MacroOut]
    next_cursor: str | None


def _given(payload: Schema) -> dict:
    return payload.dict(exclude_unset=True)


@rules_router.get("", response=RulePage)
def list_rules(request, page: Query[PageParams], event: str | None = None):
    rules = selectors.rules_visible_to(request.auth)
    if event:
        rules = rules.filter(event=event)
    return page_of(rules, page, ordering=("position", "id"))


@rules_router.post("", response={201: RuleOut})
def create_rule(request, payload: RuleIn):
    return Status(201, services.rule_create(actor=request.auth, values=payload.dict(), request=request))


@rules_router.get("/{int:rule_id}", response=RuleOut)
def get_rule(request, rule_id: int):
    return selectors.rule_get_for(request.auth, rule_id)


@rules_router.patch("/{int:rule_id}", response=RuleOut)
def update_rule(request, rule_id: int, payload: RulePatch):
    rule = selectors.rule_get_for(request.auth, rule_id)
    return services.rule_update(actor=request.auth, rule=rule, values=_given(payload), request=request)


@rules_router.delete("/{int:rule_id}", response={204: None})
def delete_rule(request, rule_id: int):
    rule = selectors.rule_get_for(request.auth, rule_id)
    services.rule_delete(actor=request.auth, rule=rule, request=request)
    return Status(204, None)


@macros_router.get("", response=MacroPage)
def list_macros(request, page: Query[PageParams]):
    return page_of(selectors.macros_visible_to(request.auth), page, ordering=("name", "id"))


@macros_router.post("", response={201: MacroOut})
def create_macro(request, payload: MacroIn):
    return Status(201, services.macro_create(actor=request.auth, values=payload.dict()))


@macros_router.get("/{int:macro_id}", response=MacroOut)
def get_macro(request, macro_id: int):
    return selectors.macro_get_for(request.auth, macro_id)


@macros_router.patch("/{int:macro_id}", response=MacroOut)
def update_macro(request, macro_id: int, payload: MacroPatch):
    macro = selectors.macro_get_for(request.auth, macro_id)
    return services.macro_update(actor=request.auth, macro=macro, values=_given(payload))


@macros_router.delete("/{int:macro_id}", response={204: None})
def delete_macro(request, macro_id: int):
    services.macro_delete(actor=request.auth, macro=selectors.macro_get_for(request.auth, macro_id))
    return Status(204, None)


@conversation_macros_router.post("/{int:conversation_id}/macros/{int:macro_id}", response=ConversationOut)
def run_macro(request, conversation_id: int, macro_id: int):
    """Run every action of the macro on the conversation, or none (the error names the action)."""
    conversation = conversation_get_for(request.auth, conversation_id)
    macro = selectors.macro_get_for(request.auth, macro_id)
    return services.macro_run(actor=request.auth, macro=macro, conversation=conversation)

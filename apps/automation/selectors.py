"""Reads of rules and macros through the rights of whoever asks (404 for what they may not see)."""

from django.db.models import Q, QuerySet

from apps.accounts import permissions
from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.automation.models import Macro, Rule
from conversa.errors import NotFound


def rules_visible_to(actor: Actor) -> QuerySet[Rule]:
    permissions.check(actor, "automation.manage")
    return Rule.objects.select_related("created_by")


def rule_get_for(actor: Actor, rule_id: int) -> Rule:
    rule = rules_visible_to(actor).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    return rule


def macros_visible_to(actor: Actor) -> QuerySet[Macro]:
    """The shared macros and the actor's own personal ones (a key: the shared ones)."""
    permissions.check(actor, "macros.use")
    mine = Q(created_by=actor) if isinstance(actor, User) else Q(pk__in=[])
    return Macro.objects.filter(Q(visibility=Macro.Visibility.SHARED) | mine)


def macro_get_for(actor: Actor, macro_id: int) -> Macro:
    macro = macros_visible_to(actor).filter(pk=macro_id).first()
    if macro is None:
        raise NotFound()
    return macro


def may_edit_macro(actor: Actor, macro: Macro) -> bool:
    """Its author edits a personal macro; managers edit shared ones (what the UI offers)."""
    if macro.visibility == Macro.Visibility.SHARED:
        return permissions.may(actor, "macros.share")
    return isinstance(actor, User) and macro.created_by_id == actor.pk

"""Reads of the company's people, through the rules of apps.accounts.permissions."""

from django.db.models import QuerySet

from apps.accounts import permissions
from apps.accounts.models import ApiKey, User
from apps.accounts.permissions import Actor
from conversa.errors import NotFound


def users_visible_to(actor: Actor) -> QuerySet[User]:
    """Everyone lists their teammates (to assign, mention, chat); keys need `users:read`."""
    permissions.check(actor, "users.read")
    return User.objects.all()


def user_get_for(actor: Actor, user_id: int) -> User:
    user = users_visible_to(actor).filter(pk=user_id).first()
    if user is None:
        raise NotFound()
    return user


def api_keys_visible_to(actor: Actor) -> QuerySet[ApiKey]:
    permissions.check(actor, "api_keys.manage")
    return ApiKey.objects.all()

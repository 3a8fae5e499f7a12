"""`/api/v1/users`: the company's users (admins manage; everyone can list teammates)."""

from typing import Literal

from ninja import Query, Router, Schema, Status
from pydantic import EmailStr, Field

from apps.accounts import selectors, services
from ninja_api.pagination import PageParams, page_of
from ninja_api.schemas import UserOut

router = Router(tags=["users"])

Role = Literal["admin", "supervisor", "agent"]


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None


class UserIn(Schema):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    name: str = Field("", max_length=150)
    role: Role = "agent"
    language: Literal["en", "es", "pt-br"] = "en"


class UserPatch(Schema):
    name: str | None = Field(None, max_length=150)
    role: Role | None = None
    language: Literal["en", "es", "pt-br"] | None = None


@router.get("", response=UserPage)
def list_users(request, page: Query[PageParams], active: bool | None = None):
    users = selectors.users_visible_to(request.auth)
    if active is not None:
        users = users.filter(is_active=active)
    return page_of(users, page, ordering=("id",))


@router.post("", response={201: UserOut})
def create_user(request, payload: UserIn):
    return Status(201, services.user_create(actor=request.auth, **payload.dict()))


@router.get("/{int:user_id}", response=UserOut)
def get_user(request, user_id: int):
    return selectors.user_get_for(request.auth, user_id)


@router.patch("/{int:user_id}", response=UserOut)
def update_user(request, user_id: int, payload: UserPatch):
    user = selectors.user_get_for(request.auth, user_id)
    return services.user_update(user=user, actor=request.auth, **payload.dict(exclude_unset=True))


@router.delete("/{int:user_id}", response=UserOut)
def deactivate_user(request, user_id: int):
    user = selectors.user_get_for(request.auth, user_id)
    return services.user_deactivate(user=user, actor=request.auth)

"""Schemas shared by several routers."""

from datetime import datetime

from ninja import Schema


class UserOut(Schema):
    id: int
    email: str
    name: str
    role: str
    status: str
    status_reason: str
    language: str
    is_active: bool
    date_joined: datetime
    last_login: datetime | None


class TokenPairOut(Schema):
    access: str
    refresh: str


class LoginOut(TokenPairOut):
    user: UserOut


class LoginIn(Schema):
    email: str
    password: str
    otp: str | None = None


class RefreshIn(Schema):
    refresh: str

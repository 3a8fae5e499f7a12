"""Passwords hashed with Argon2id at or above OWASP's minimum; older hashes upgraded at login.

The test settings hash with MD5 for speed: these tests put the production list back.
"""

import importlib

import pytest
from django.contrib.auth.hashers import get_hasher, identify_hasher, make_password
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tests.fixtures.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = importlib.import_module("conversa.settings").PASSWORD_HASHERS
    return settings.PASSWORD_HASHERS


def test_production_hashes_with_argon2id_at_least_at_owasp_minimum(production_hashers):
    encoded = make_password("a password")
    algorithm, variety, version, params, _, _ = encoded.split("$")
    assert (algorithm, variety, version) == ("argon2", "argon2id", "v=19")
    memory, time_cost, lanes = (int(part.split("=")[1]) for part in params.split(","))
    assert memory >= 19 * 1024 and time_cost >= 2 and lanes == 1


def test_the_cost_never_drops_below_the_minimum_whatever_the_settings(production_hashers, settings):
    settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_KIB = 1, 1024
    params = get_hasher("default").decode(make_password("x"))
    assert params["memory_cost"] >= 19 * 1024 and params["time_cost"] >= 2


def test_a_pbkdf2_hash_is_upgraded_to_argon2id_at_the_next_login(api, alpha, production_hashers):
    user = make_user(alpha)
    with schema_context(alpha.schema_name):
        User.objects.filter(pk=user.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))

    assert api(alpha).login(user.email)["user"]["id"] == user.pk

    with schema_context(alpha.schema_name):
        stored = User.objects.get(pk=user.pk).password
    assert identify_hasher(stored).algorithm == "argon2" and "$argon2id$" in stored
    assert api(alpha).login(user.email)["user"]["id"] == user.pk  # and the new hash verifies

"""The console through Django's test client on BASE_DOMAIN, signed in as a super-admin."""

import pytest
from django.db import connection
from django.test import Client

from tests.fixtures.factories import PASSWORD


class Console:
    """A test client on BASE_DOMAIN (`localhost`) that keeps its cookies, like a browser tab."""

    def __init__(self, host: str = "localhost"):
        self.host = host
        self.client = Client(HTTP_HOST=host)

    def _done(self, response):
        connection.set_schema_to_public()
        return response

    def get(self, path, **params):
        return self._done(self.client.get(path, params, HTTP_HOST=self.host))

    def post(self, path, data=None):
        return self._done(self.client.post(path, data or {}, HTTP_HOST=self.host))

    def login(self, email: str, password: str = PASSWORD):
        return self.post("/console/login/", {"email": email, "password": password})


@pytest.fixture
def console_client():
    return Console()


@pytest.fixture
def console(superadmin) -> Console:
    client = Console()
    response = client.login(superadmin.email)
    assert response.status_code == 302, response.content
    return client

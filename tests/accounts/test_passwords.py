"""Password change and reset through the API, with the reset email read from a real SMTP server."""

import statistics
import time
import uuid

import pytest
from huey.contrib.djhuey import HUEY

from tests.fixtures.factories import PASSWORD, make_user, unique_email

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-passphrase"


def reset_token(message) -> str:
    return message.link("/app/password/reset/").rstrip("/").rsplit("/", 1)[1]


def refresh_works(api, company, refresh: str) -> bool:
    return api(company).post("/api/v1/auth/refresh", {"refresh": refresh}).status_code == 200


def test_changing_the_password_keeps_this_device_and_signs_out_the_others(api, alpha):
    user = make_user(alpha)
    here, elsewhere = api(alpha).login(user.email), api(alpha).login(user.email)
    client = api(alpha, token=here["access"])

    changed = client.post("/api/v1/auth/password/change", {
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "refresh": here["refresh"],
    })
    assert changed.status_code == 204, changed.content
    assert refresh_works(api, alpha, here["refresh"])
    assert not refresh_works(api, alpha, elsewhere["refresh"])
    old = api(alpha).post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD})
    assert old.status_code == 401
    assert api(alpha).login(user.email, NEW_PASSWORD)


def test_a_wrong_current_password_or_a_weak_new_one_changes_nothing(api, alpha):
    user = make_user(alpha)
    tokens = api(alpha).login(user.email)
    client = api(alpha, token=tokens["access"])
    wrong = client.post("/api/v1/auth/password/change",
                        {"current_password": "not-it-at-all", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"][0]["field"] == "current_password"
    weak = client.post("/api/v1/auth/password/change",
                       {"current_password": PASSWORD, "new_password": "12345678"})
    assert weak.status_code == 422
    assert {d["field"] for d in weak.json()["error"]["details"]} == {"new_password"}
    assert refresh_works(api, alpha, tokens["refresh"])
    assert api(alpha).login(user.email, PASSWORD)


def test_guessing_the_current_password_is_throttled(api, alpha, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    user = make_user(alpha)
    client = api(alpha, token=api(alpha).login(user.email)["access"])
    guesses = [client.post("/api/v1/auth/password/change",
                           {"current_password": f"guess-{n}", "new_password": NEW_PASSWORD}).status_code
               for n in range(4)]
    assert guesses == [422, 422, 422, 429]


def test_a_reset_link_sets_a_new_password_once_and_signs_out_every_device(api, alpha, mailbox, sent):
    user = make_user(alpha)
    tokens = api(alpha).login(user.email)
    asked = sent(api(alpha).post, "/api/v1/auth/password/reset", {"email": user.email.upper()})
    assert asked.status_code == 202
    [message] = mailbox.wait_for(user.email)
    assert alpha.name in message.subject
    token = reset_token(message)

    done = api(alpha).post("/api/v1/auth/password/reset/confirm",
                           {"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 204, done.content
    assert not refresh_works(api, alpha, tokens["refresh"])
    assert api(alpha).login(user.email, NEW_PASSWORD)

    again = api(alpha).post("/api/v1/auth/password/reset/confirm",
                            {"token": token, "new_password": "yet-another-passphrase"})
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "reset_token_invalid"


def test_a_reset_link_expires(api, alpha, mailbox, settings, sent):
    user = make_user(alpha)
    sent(api(alpha).post, "/api/v1/auth/password/reset", {"email": user.email})
    token = reset_token(mailbox.wait_for(user.email)[0])
    settings.PASSWORD_RESET_TIMEOUT = -1  # every link issued is now past its time
    late = api(alpha).post("/api/v1/auth/password/reset/confirm",
                           {"token": token, "new_password": NEW_PASSWORD})
    assert late.status_code == 401
    assert api(alpha).login(user.email, PASSWORD)


def test_a_reset_link_of_one_company_is_useless_on_another(api, alpha, bravo, mailbox, sent):
    user = make_user(alpha)
    twin = make_user(bravo, email=user.email)  # same address, another company
    sent(api(alpha).post, "/api/v1/auth/password/reset", {"email": user.email})
    [message] = mailbox.wait_for(user.email)
    assert alpha.slug in message.link("/app/password/reset/")
    token = reset_token(message)
    on_bravo = api(bravo).post("/api/v1/auth/password/reset/confirm",
                               {"token": token, "new_password": NEW_PASSWORD})
    assert on_bravo.status_code == 401
    assert api(bravo).login(twin.email, PASSWORD)


def test_a_reset_request_answers_the_same_whether_or_not_the_email_exists(
    api, alpha, mailbox, queue_to_redis, sent,
):
    """Equal status and body, equal time within noise: the request only queues the lookup."""
    user = make_user(alpha)
    client = api(alpha)

    def ask(email):
        started = time.perf_counter()
        response = client.post("/api/v1/auth/password/reset", {"email": email})
        return response, time.perf_counter() - started

    known, unknown = [], []
    for round_ in range(8):
        pair = [(user.email, known), (unique_email("nobody"), unknown)]
        for email, timings in pair if round_ % 2 else reversed(pair):  # neither always goes first
            response, took = ask(email)
            timings.append((response.status_code, response.content, took))
    assert {(status, body) for status, body, _ in known} == {(status, body) for status, body, _ in unknown}
    assert {status for status, *_ in known} == {202}
    known_ms = statistics.median(t for *_, t in known) * 1000
    unknown_ms = statistics.median(t for *_, t in unknown) * 1000
    assert abs(known_ms - unknown_ms) < max(5.0, 0.5 * min(known_ms, unknown_ms)), (known_ms, unknown_ms)

    # The queued tasks do the lookup: only the real account gets an email.
    lookups = []
    while (task := HUEY.dequeue()) is not None:
        lookups.append(task)
    assert len(lookups) == 16
    HUEY.immediate = True  # the email task each lookup queues runs at once
    for task in lookups:
        sent(HUEY.execute, task)
    assert len(mailbox.wait_for(user.email, count=8)) == 8
    assert len(mailbox.messages) == 8


def test_reset_requests_are_throttled_per_email_and_per_ip(api, alpha, mailbox, settings):
    settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR = 2
    settings.PASSWORD_RESET_PER_IP_PER_HOUR = 4
    settings.TRUST_X_FORWARDED_FOR = True
    client = api(alpha, headers={"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250}"})
    email = unique_email("throttled")
    statuses = [client.post("/api/v1/auth/password/reset", {"email": email}).status_code
                for _ in range(3)]
    assert statuses == [202, 202, 429]
    other = [client.post("/api/v1/auth/password/reset", {"email": unique_email()}) for _ in range(3)]
    # The IP spent 3 (the refused one too): its 4th passes, then 429.
    assert [r.status_code for r in other] == [202, 429, 429]
    assert "Retry-After" in other[-1].headers

"""Invitations end to end through the API, with the email read from a real SMTP server."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.fixtures.factories import PASSWORD, make_user, unique_email

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-fresh-long-passphrase"


def token_of(message) -> str:
    return message.link("/app/invite/").rstrip("/").rsplit("/", 1)[1]


def test_an_invited_person_gets_a_branded_email_and_joins_with_its_link(
    admin_api, api, alpha, mailbox, sent,
):
    email = unique_email("invitee")
    created = sent(admin_api.post, "/api/v1/users/invitations", {"email": email, "role": "supervisor"})
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "pending"

    [message] = mailbox.wait_for(email)
    assert alpha.name in message.subject
    assert f"http://{admin_api.host}/app/invite/" in message.text
    assert alpha.name in message.html

    accepted = api(alpha).post("/api/v1/auth/invitations/accept", {
        "token": token_of(message), "name": "Inês Invitee", "password": NEW_PASSWORD,
    })
    assert accepted.status_code == 200, accepted.content
    body = accepted.json()
    assert body["user"]["email"] == email and body["user"]["role"] == "supervisor"
    assert api(alpha, token=body["access"]).get("/api/v1/auth/me").json()["name"] == "Inês Invitee"
    assert api(alpha).login(email, NEW_PASSWORD)["user"]["email"] == email


def test_an_invitation_link_works_once(admin_api, api, alpha, mailbox, sent):
    email = unique_email("once")
    sent(admin_api.post, "/api/v1/users/invitations", {"email": email})
    token = token_of(mailbox.wait_for(email)[0])
    body = {"token": token, "name": "Once", "password": NEW_PASSWORD}
    assert api(alpha).post("/api/v1/auth/invitations/accept", body).status_code == 200

    again = api(alpha).post("/api/v1/auth/invitations/accept", {**body, "name": "Twice"})
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invitation_invalid"


def test_an_expired_invitation_is_refused_and_resending_revives_it(
    admin_api, api, alpha, mailbox, sent, in_schema,
):
    from apps.accounts.models import Invitation

    email = unique_email("late")
    invitation_id = sent(admin_api.post, "/api/v1/users/invitations", {"email": email}).json()["id"]
    old_token = token_of(mailbox.wait_for(email)[0])
    with in_schema(alpha.schema_name):
        Invitation.objects.filter(pk=invitation_id).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1),
        )
    body = {"token": old_token, "name": "Late", "password": NEW_PASSWORD}
    assert api(alpha).post("/api/v1/auth/invitations/accept", body).status_code == 401

    resent = sent(admin_api.post, f"/api/v1/users/invitations/{invitation_id}/resend")
    assert resent.status_code == 200 and resent.json()["status"] == "pending"
    new_token = token_of(mailbox.wait_for(email, count=2)[1])
    assert new_token != old_token
    assert api(alpha).post("/api/v1/auth/invitations/accept", body).status_code == 401  # old link dead
    assert api(alpha).post("/api/v1/auth/invitations/accept", {**body, "token": new_token}).status_code == 200


def test_a_revoked_invitation_link_stops_working(admin_api, api, alpha, mailbox, sent):
    email = unique_email("revoked")
    invitation_id = sent(admin_api.post, "/api/v1/users/invitations", {"email": email}).json()["id"]
    token = token_of(mailbox.wait_for(email)[0])

    revoked = admin_api.delete(f"/api/v1/users/invitations/{invitation_id}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    listed = admin_api.get("/api/v1/users/invitations").json()["items"]
    assert invitation_id not in [item["id"] for item in listed]
    everything = admin_api.get("/api/v1/users/invitations?status=all").json()["items"]
    assert invitation_id in [item["id"] for item in everything]
    accept = {"token": token, "name": "Nope", "password": NEW_PASSWORD}
    assert api(alpha).post("/api/v1/auth/invitations/accept", accept).status_code == 401


def test_inviting_a_user_or_a_pending_invitation_again_is_a_conflict(admin_api, alpha, mailbox, sent):
    member = make_user(alpha)
    taken = admin_api.post("/api/v1/users/invitations", {"email": member.email.upper()})
    assert taken.status_code == 409

    email = unique_email("twice")
    assert sent(admin_api.post, "/api/v1/users/invitations", {"email": email}).status_code == 201
    again = admin_api.post("/api/v1/users/invitations", {"email": email})
    assert again.status_code == 409
    assert again.json()["error"]["details"][0]["field"] == "email"


def test_pending_invitations_take_plan_seats(api, make_company, mailbox, sent):
    company = make_company(plan="free")
    limit = company.plan.max_agents
    assert limit is not None
    admin = api(company, token=api(company).login(f"admin@{company.slug}.example.com")["access"])
    for _ in range(limit - 1):  # the admin holds one seat
        created = sent(admin.post, "/api/v1/users/invitations", {"email": unique_email("seat")})
        assert created.status_code == 201
    refused = admin.post("/api/v1/users/invitations", {"email": unique_email("seat")})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "plan_limit_reached"


def test_only_admins_invite(api, alpha):
    agent = make_user(alpha, role="supervisor")
    client = api(alpha, token=api(alpha).login(agent.email)["access"])
    assert client.post("/api/v1/users/invitations", {"email": unique_email()}).status_code == 403
    assert client.get("/api/v1/users/invitations").status_code == 403


def test_a_weak_password_is_refused_and_the_invitation_stays_usable(admin_api, api, alpha, mailbox, sent):
    email = unique_email("weak")
    sent(admin_api.post, "/api/v1/users/invitations", {"email": email})
    token = token_of(mailbox.wait_for(email)[0])
    weak = api(alpha).post("/api/v1/auth/invitations/accept",
                           {"token": token, "name": "W", "password": "123"})
    assert weak.status_code == 422
    assert {d["field"] for d in weak.json()["error"]["details"]} == {"password"}
    ok = api(alpha).post("/api/v1/auth/invitations/accept",
                         {"token": token, "name": "W", "password": NEW_PASSWORD})
    assert ok.status_code == 200


def test_the_invited_user_joins_the_invitations_teams(admin_api, api, alpha, mailbox, sent):
    team = admin_api.post("/api/v1/teams", {"name": f"Invitees {unique_email()[:12]}"}).json()
    email = unique_email("teamed")
    created = sent(admin_api.post, "/api/v1/users/invitations", {"email": email, "team_ids": [team["id"]]})
    assert created.status_code == 201 and created.json()["team_ids"] == [team["id"]]
    token = token_of(mailbox.wait_for(email)[0])
    user = sent(api(alpha).post, "/api/v1/auth/invitations/accept",
                {"token": token, "name": "T", "password": NEW_PASSWORD}).json()["user"]
    members = admin_api.get(f"/api/v1/teams/{team['id']}").json()["members"]
    assert user["id"] in [m["user_id"] for m in members]

    unknown = admin_api.post("/api/v1/users/invitations", {"email": unique_email(), "team_ids": [999999]})
    assert unknown.status_code == 422


def test_the_email_is_in_the_invitations_language(admin_api, alpha, mailbox, sent):
    email = unique_email("es")
    sent(admin_api.post, "/api/v1/users/invitations", {"email": email, "language": "es"})
    message = mailbox.wait_for(email)[0]
    assert "invitación" in message.text.lower()


# --- isolation ------------------------------------------------------------------------------------

def test_an_invitation_of_one_company_is_useless_on_another(admin_api, api, alpha, bravo, mailbox, sent):
    email = unique_email("cross")
    invitation_id = sent(admin_api.post, "/api/v1/users/invitations", {"email": email}).json()["id"]
    token = token_of(mailbox.wait_for(email)[0])

    on_bravo = api(bravo).post("/api/v1/auth/invitations/accept",
                               {"token": token, "name": "X", "password": NEW_PASSWORD})
    assert on_bravo.status_code == 401
    bravo_admin = api(bravo, token=api(bravo).login(f"admin@{bravo.slug}.example.com", PASSWORD)["access"])
    listed = bravo_admin.get("/api/v1/users/invitations?status=all").json()["items"]
    assert invitation_id not in [i["id"] for i in listed]
    assert bravo_admin.post(f"/api/v1/users/invitations/{invitation_id}/resend").status_code == 404
    assert bravo_admin.delete(f"/api/v1/users/invitations/{invitation_id}").status_code == 404
    # Still usable on its own company.
    assert api(alpha).post("/api/v1/auth/invitations/accept",
                           {"token": token, "name": "X", "password": NEW_PASSWORD}).status_code == 200

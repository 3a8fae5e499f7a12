"""Fixtures of the team-chat tests: people of one company signed in to the API."""

from dataclasses import dataclass

import pytest

from tests.fixtures.factories import make_user


@dataclass
class Person:
    user: object
    api: object


@pytest.fixture
def people(alpha, api):
    """`people(n, role="agent")` → n users of alpha with signed-in API clients."""

    def make(*names: str, role: str = "agent", company=None) -> list[Person]:
        company = company or alpha
        found = []
        for name in names:
            user = make_user(company, role=role, name=name)
            token = api(company).login(user.email)["access"]
            found.append(Person(user, api(company, token=token)))
        return found

    return make


def room_of(person: Person, *members: Person, name: str = "Ops") -> dict:
    response = person.api.post("/api/v1/team-chat/rooms", {
        "name": name, "member_ids": [member.user.pk for member in members],
    })
    assert response.status_code == 201, response.content
    return response.json()


def post(person: Person, room_id: int, text: str, **fields):
    return person.api.post(f"/api/v1/team-chat/rooms/{room_id}/messages", {"text": text, **fields})


def unread(person: Person, room_id: int) -> int:
    return person.api.get(f"/api/v1/team-chat/rooms/{room_id}").json()["unread_count"]


@pytest.fixture
def frames(monkeypatch):
    """What the realtime fan-out sends: a list of (group, frame) with each frame decoded."""
    import json

    from conversa.realtime import fanout

    sent: list[tuple[str, dict]] = []

    def capture(messages):
        for group, message in messages:
            texts = message.get("texts") or ([message["text"]] if "text" in message else [])
            if not texts:
                sent.append((group, message))
            for text in texts:
                sent.append((group, json.loads(text)))

    monkeypatch.setattr(fanout, "send_messages", capture)
    return sent


def groups_of(frames, kind: str) -> set[str]:
    return {group for group, frame in frames if frame.get("type") == kind}

"""The knowledge base's API (SPEC §11, §15.1): managers write, everyone reads, accent-blind search,
§13 errors for bad input, the plan flag, and one company's articles unknown to another."""

import pytest
from django_tenants.utils import schema_context

from apps.knowledge.models import Article
from tests.conftest import host_of
from tests.fixtures.factories import make_api_key, make_user
from tests.knowledge.conftest import visit

pytestmark = pytest.mark.django_db


def signed_in(api, company, role):
    user = make_user(company, role=role)
    return user, api(company, token=api(company).login(user.email)["access"])


def category(client, name="Getting started"):
    response = client.post("/api/v1/knowledge/categories", {"name": name})
    assert response.status_code == 201, response.content
    return response.json()


def test_a_supervisor_writes_an_article_that_agents_read_rendered_and_found_without_accents(alpha, api):
    _sup, supervisor = signed_in(api, alpha, "supervisor")
    _agent, agent = signed_in(api, alpha, "agent")
    cat = category(supervisor, "Cuenta y facturación")
    assert cat["slug"] == "cuenta-y-facturacion"

    created = supervisor.post("/api/v1/knowledge/articles", {
        "category_id": cat["id"], "title": "Cómo cambiar la contraseña",
        "body": "# Pasos\n\n1. Abre **Perfil**\n2. <script>alert(1)</script>", "tags": ["cuenta"],
        "visibility": "internal",
    })
    assert created.status_code == 201, created.content
    article = created.json()
    assert article["slug"] == "como-cambiar-la-contrasena"
    assert "<strong>Perfil</strong>" in article["body_html"]
    assert "<script>" not in article["body_html"]
    assert (article["status"], article["public_url"]) == ("draft", None)

    found = agent.get("/api/v1/knowledge/articles?q=CONTRASENA").json()["items"]
    assert [a["id"] for a in found] == [article["id"]]  # internal drafts are read by the staff
    assert agent.get("/api/v1/knowledge/articles?q=zzz-nothing").json()["items"] == []

    published = supervisor.patch(f"/api/v1/knowledge/articles/{article['id']}",
                                 {"status": "published", "visibility": "public"}).json()
    assert published["published_at"] is not None
    assert published["public_url"] == f"http://{api(alpha).host}/help/cuenta-y-facturacion/{article['slug']}"
    assert [a["id"] for a in agent.get("/api/v1/knowledge/articles?status=published").json()["items"]] \
        == [article["id"]]


def test_agents_cannot_write_and_bad_input_changes_nothing(alpha, api):
    _sup, supervisor = signed_in(api, alpha, "supervisor")
    _agent, agent = signed_in(api, alpha, "agent")
    cat = category(supervisor)

    refused = agent.post("/api/v1/knowledge/articles", {"category_id": cat["id"], "title": "Mine"})
    assert refused.status_code == 403
    bad = supervisor.post("/api/v1/knowledge/articles", {"category_id": 999999, "title": "Lost"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "category_id"
    bad_status = supervisor.post("/api/v1/knowledge/articles",
                                 {"category_id": cat["id"], "title": "X", "status": "live"})
    assert bad_status.status_code == 422
    assert "status" in str(bad_status.json()["error"]["details"])
    with schema_context(alpha.schema_name):
        assert not Article.objects.filter(category_id=cat["id"]).exists()

    supervisor.post("/api/v1/knowledge/articles", {"category_id": cat["id"], "title": "Kept"})
    in_use = supervisor.delete(f"/api/v1/knowledge/categories/{cat['id']}")
    assert in_use.status_code == 409


def test_one_companys_articles_are_unknown_to_another_companys_token_and_key(alpha, bravo, api):
    _sup, supervisor = signed_in(api, alpha, "supervisor")
    article = supervisor.post("/api/v1/knowledge/articles", {
        "category_id": category(supervisor)["id"], "title": "Alpha only"}).json()
    _b, bravo_admin = signed_in(api, bravo, "admin")
    assert bravo_admin.get(f"/api/v1/knowledge/articles/{article['id']}").status_code == 404
    assert bravo_admin.get("/api/v1/knowledge/articles?q=Alpha only").json()["items"] == []
    assert bravo_admin.patch(f"/api/v1/knowledge/articles/{article['id']}", {"title": "x"}).status_code == 404

    _key, raw = make_api_key(bravo, scopes=["knowledge:read"])
    bravo_key = api(bravo, headers={"X-Api-Key": raw})
    assert bravo_key.get(f"/api/v1/knowledge/articles/{article['id']}").status_code == 404
    alpha_token_on_bravo = api(bravo, token=supervisor.headers["Authorization"].split()[1])
    assert alpha_token_on_bravo.get("/api/v1/knowledge/articles").status_code == 401


def test_without_the_plan_feature_the_api_refuses_and_the_help_centre_does_not_exist(make_company, api):
    company = make_company(plan="free")
    client = api(company, token=api(company).login(company.owner_email)["access"])
    response = client.get("/api/v1/knowledge/articles")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "feature_not_in_plan"
    assert visit(host_of(company), "/help/").status_code == 404

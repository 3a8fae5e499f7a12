"""The knowledge base in the agents' UI: managers write, preview and publish articles; agents get
no editor but find published public articles from the composer's picker; plan and company."""

import pytest
from django_tenants.utils import schema_context

from apps.knowledge.models import Article, Category
from tests.conftest import host_of
from tests.fixtures.factories import make_user
from tests.knowledge.conftest import publish
from tests.web.test_pages import signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_help_cache")]


def test_a_supervisor_writes_previews_and_publishes_an_article(alpha, django_capture_on_commit_callbacks):
    supervisor = make_user(alpha, role="supervisor")
    browser = signed_in(alpha, supervisor)
    assert b'href="/app/knowledge/"' in browser.get("/app/").content
    created = browser.post("/app/knowledge/", {"name": "Envíos", "description": "Shipping", "position": 1})
    assert created.status_code == 302
    with schema_context(alpha.schema_name):
        category = Category.objects.get(name="Envíos")

    preview = browser.post("/app/knowledge/preview/", {"body": "**Bold** <script>alert(1)</script>"})
    assert preview.content.decode() == "<p><strong>Bold</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"

    saved = browser.post("/app/knowledge/new/", {
        "title": "Plazos de envío", "category_id": category.pk, "body": "Two **days**.",
        "tags": "shipping, times", "visibility": "public", "language": "es",
    })
    assert saved.status_code == 302
    with schema_context(alpha.schema_name):
        article = Article.objects.get(title="Plazos de envío")
    assert (article.status, article.tags, article.slug) == ("draft", ["shipping", "times"], "plazos-de-envio")
    help_path = f"/help/{category.slug}/{article.slug}"
    assert browser.get(help_path).status_code == 404  # a draft

    assert browser.post(f"/app/knowledge/{article.pk}/publish/").status_code == 302
    editor = browser.get(f"/app/knowledge/{article.pk}/").content.decode()
    assert f'href="http://{host_of(alpha)}{help_path}"' in editor and 'id="unpublish"' in editor
    assert "Two <strong>days</strong>." in browser.get(help_path).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        browser.post(f"/app/knowledge/{article.pk}/unpublish/")
    assert browser.get(help_path).status_code == 404  # the cached page went with it


def test_agents_have_no_editor_but_pick_published_public_articles_in_the_composer(alpha):
    public = publish(alpha, title="Reembolsos y devoluciones")
    publish(alpha, title="Reembolsos internos", visibility="internal", category=public.category)
    publish(alpha, title="Reembolsos borrador", status="draft", category=public.category)
    agent = make_user(alpha)
    browser = signed_in(alpha, agent)
    assert browser.get("/app/knowledge/").status_code == 404
    assert browser.get("/app/knowledge/new/").status_code == 404
    assert browser.post("/app/knowledge/preview/", {"body": "x"}).status_code == 404

    found = browser.get("/app/knowledge/picker/?kb_q=reembolso").content.decode()
    url = f"http://{host_of(alpha)}/help/{public.category.slug}/{public.slug}"
    assert f'data-insert-url="{url}"' in found
    assert "internos" not in found and "borrador" not in found


def test_another_companys_articles_are_not_in_the_picker_nor_editable(alpha, bravo):
    article = publish(alpha, title="Alpha only guide")
    bravo_admin = make_user(bravo, role="admin")
    browser = signed_in(bravo, bravo_admin)
    assert "Alpha only guide" not in browser.get("/app/knowledge/picker/?kb_q=guide").content.decode()
    assert browser.get(f"/app/knowledge/{article.pk}/").status_code == 404
    assert browser.post(f"/app/knowledge/{article.pk}/delete/").status_code == 404
    with schema_context(alpha.schema_name):
        assert Article.objects.filter(pk=article.pk).exists()

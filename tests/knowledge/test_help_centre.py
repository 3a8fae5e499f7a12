"""The public help centre (SPEC §11, issue 18 acceptance 2): only published public articles, inert
Markdown, cached pages dropped when an article changes, views counted without a write, feedback
limited per address, SEO tags and sitemap, the company's branding on its custom domain, and the
plan flag."""

import json
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.knowledge import counters
from apps.knowledge.models import Article
from apps.knowledge.services import article_update
from tenants import dns
from tenants.branding import company_set_branding
from tenants.domains import domain_add, domain_verify, txt_record_for
from tests.conftest import host_of
from tests.knowledge.conftest import publish, visit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_help_cache")]

EVIL = """# Title

<script>alert('script')</script>
[click](javascript:alert('link'))
<img src=x onerror="alert('img')">
<a href="javascript:alert(1)" onclick="alert(2)">raw</a>
"""


def test_markdown_with_script_javascript_links_and_raw_html_renders_inert(alpha):
    article = publish(alpha, title="Evil", body=EVIL)
    page = visit(host_of(alpha), f"/help/{article.category.slug}/{article.slug}")
    assert page.status_code == 200
    html = page.content.decode()
    body = html[html.index('class="article-body"'):html.index("</article>")]
    assert "<h1>Title</h1>" in body
    tags = elements(body)
    assert [tag for tag, _attrs in tags if tag in ("script", "img", "a", "iframe")] == []
    assert [name for _tag, attrs in tags for name, _value in attrs if name.startswith("on")] == []
    assert "&lt;script&gt;" in body  # shown as text, not run


def elements(html: str) -> list[tuple[str, list]]:
    """Every start tag of `html` with its attributes, as a browser's tokenizer sees them."""
    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(html)
    return found


def test_internal_and_draft_articles_are_never_on_the_help_centre(alpha):
    public = publish(alpha, title="Public one")
    internal = publish(alpha, title="Internal one", visibility="internal", category=public.category)
    draft = publish(alpha, title="Draft one", status="draft", category=public.category)
    host = host_of(alpha)

    for article in (internal, draft):
        assert visit(host, f"/help/{article.category.slug}/{article.slug}").status_code == 404
    listing = visit(host, f"/help/{public.category.slug}/").content.decode()
    home = visit(host, "/help/").content.decode()
    found = visit(host, "/help/search?q=one").content.decode()
    sitemap = visit(host, "/help/sitemap.xml").content.decode()
    for page in (listing, home, found, sitemap):
        assert public.slug in page
        assert internal.slug not in page and draft.slug not in page
    feedback = visit(host, f"/help/{internal.category.slug}/{internal.slug}/feedback", method="post",
                     data=json.dumps({"helpful": True}), content_type="application/json")
    assert feedback.status_code == 404


def test_a_cached_page_is_dropped_when_its_article_changes_and_views_are_counted_in_redis(
    alpha, django_capture_on_commit_callbacks,
):
    article = publish(alpha, title="Opening hours", body="We open at **nine**.")
    host, path = host_of(alpha), f"/help/{article.category.slug}/{article.slug}"
    first = visit(host, path)
    assert "nine" in first.content.decode()

    client = Client(HTTP_HOST=host)
    with _no_article_query():
        second = visit(host, path, client=client)
    assert second.status_code == 200 and "nine" in second.content.decode()

    with schema_context(alpha.schema_name):
        admin = User.objects.filter(role="admin").first()
        with django_capture_on_commit_callbacks(execute=True):
            article_update(actor=admin, article=article, body="We open at **ten**.")
    third = visit(host, path).content.decode()
    assert "ten" in third and "nine" not in third

    with schema_context(alpha.schema_name):
        assert counters.pending_views(article.pk) == 3
        assert Article.objects.get(pk=article.pk).views == 0  # no write per view
        assert counters.views_flush() >= 3
        assert Article.objects.get(pk=article.pk).views == 3
        assert counters.pending_views(article.pk) == 0


class _no_article_query:
    """A cached page reads no article: assert no SQL touches the knowledge tables."""

    def __enter__(self):
        from django.db import connection

        self.queries = []
        self.wrapper = connection.execute_wrapper(self._record)
        self.wrapper.__enter__()
        return self

    def _record(self, execute, sql, params, many, context):
        self.queries.append(sql)
        return execute(sql, params, many, context)

    def __exit__(self, *exc):
        self.wrapper.__exit__(*exc)
        touched = [sql for sql in self.queries if re.search(r'(FROM|JOIN) "knowledge_', sql)]
        assert touched == [], touched


def test_feedback_counts_once_per_address_and_needs_the_csrf_token(alpha):
    article = publish(alpha, title="Billing")
    host, path = host_of(alpha), f"/help/{article.category.slug}/{article.slug}"
    client = Client(HTTP_HOST=host, enforce_csrf_checks=True)
    visit(host, path, client=client)
    token = client.cookies["csrftoken"].value

    forged = visit(host, f"{path}/feedback", client=Client(HTTP_HOST=host, enforce_csrf_checks=True),
                   method="post", data=json.dumps({"helpful": True}), content_type="application/json")
    assert forged.status_code == 403

    def send(body):
        return visit(host, f"{path}/feedback", client=client, method="post", data=json.dumps(body),
                     content_type="application/json", headers={"X-CSRFToken": token})

    assert send({"helpful": True}).status_code == 200
    again = send({"helpful": False})
    assert again.status_code == 429 and again.json()["error"]["code"] == "rate_limited"
    assert send({"stars": 9}).status_code == 422
    assert send({"stars": 4}).status_code == 200
    with schema_context(alpha.schema_name):
        stored = Article.objects.get(pk=article.pk)
    counts = (stored.helpful_count, stored.not_helpful_count, stored.rating_count, stored.rating_sum)
    assert counts == (1, 0, 1, 4)


def test_pages_carry_seo_tags_and_speak_the_visitors_language(alpha):
    article = publish(alpha, title="Shipping times", body="Orders ship **within two days** of payment.")
    host, path = host_of(alpha), f"/help/{article.category.slug}/{article.slug}"
    html = visit(host, path).content.decode()
    assert "<title>Shipping times · " in html
    assert '<meta name="description" content="Orders ship within two days of payment.">' in html
    assert f'<link rel="canonical" href="http://{host}{path}">' in html
    spanish = visit(host, path, headers={"Accept-Language": "es"})
    assert spanish["Content-Language"] == "es"
    assert "¿Te ha sido útil este artículo?" in spanish.content.decode()
    sitemap = visit(host, "/help/sitemap.xml")
    assert sitemap["Content-Type"].startswith("application/xml")
    assert f"<loc>http://{host}{path}</loc>" in sitemap.content.decode()


def test_the_help_centre_wears_the_companys_branding_on_its_custom_domain(alpha, monkeypatch,
                                                                         fresh_host_list):
    # On the shared company: its branding and domain are rolled back with the test.
    company = company_set_branding(company=alpha, brand_name="Zeta Care", primary_color="#7c2d12",
                                   support_email="help@zeta.test")
    domain = domain_add(company=company, domain="help.zeta-care.test")
    record = txt_record_for(domain)
    monkeypatch.setattr(dns, "txt_records", lambda name: [record["value"]] if name == record["name"] else [])
    domain_verify(domain=domain)
    article = publish(company, title="Zeta returns")

    page = visit("help.zeta-care.test", f"/help/{article.category.slug}/{article.slug}")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Zeta Care" in html and "#7c2d12" in html and "help@zeta.test" in html
    assert "Powered by Conversa" not in html  # white label
    assert '<link rel="canonical" href="http://help.zeta-care.test/help/' in html


def test_one_companys_articles_are_never_on_another_companys_host(alpha, bravo):
    article = publish(alpha, title="Alpha secret recipe")
    path = f"/help/{article.category.slug}/{article.slug}"
    assert visit(host_of(alpha), path).status_code == 200
    assert visit(host_of(bravo), path).status_code == 404
    assert "Alpha secret recipe" not in visit(host_of(bravo), "/help/search?q=secret").content.decode()



def test_views_are_counted_and_flushed_per_company(alpha, bravo):
    article = publish(alpha, title="Counted in alpha")
    visit(host_of(alpha), f"/help/{article.category.slug}/{article.slug}")
    with schema_context(bravo.schema_name):
        counters.views_flush()
    with schema_context(alpha.schema_name):
        assert counters.pending_views(article.pk) == 1  # bravo's flush left alpha's count alone

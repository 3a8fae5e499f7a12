"""The public help centre at `/help/` on every host of a company (its subdomain and its verified
custom domains), in the company's branding (SPEC §11): published public articles only, anything
else is a 404; no sign-in.

Pages are cached whole per company, language and branding (`apps.knowledge.help_cache`, dropped
when an article or category changes): a cached page costs one cache read and, for an article, one
Redis increment counting the view (added to the article by a periodic task). The response's CSP
nonce is put back into the cached HTML on every hit. Votes and ratings are POSTed by
static/web/help.js with the CSRF cookie's token, at most once a day per address and article.
"""

import hashlib
import json

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.knowledge import counters, help_cache, selectors, services
from apps.web.i18n import supported_language
from conversa import ratelimit
from conversa.errors import DomainError, ValidationFailed, domain_error_response
from conversa.request_meta import client_ip

NONCE_MARK = "__help_csp_nonce__"
SEARCH_RESULTS = 30
FEEDBACK_PER_DAY = 1
LANGUAGE_NAMES = dict(settings.LANGUAGES)


def _language(request) -> str:
    """`?lang=` first, then what the browser asks for, then the company's default language."""
    asked = request.GET.get("lang")
    if asked and asked.lower() in LANGUAGE_NAMES:
        return asked.lower()
    if request.headers.get("Accept-Language") or request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME):
        return translation.get_language_from_request(request)
    return supported_language(request.tenant.default_language)


def _branding_stamp(request) -> str:
    """A page cached under one branding is not served under another (logo, colour, name, plan)."""
    company = request.tenant
    parts = [company.brand_name, company.name, company.primary_color, str(company.logo or ""),
             str(company.plan.white_label), company.support_email]
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:12]


def _render(request, template: str, context: dict, language: str) -> str:
    context = {"language": language, "languages": settings.LANGUAGES,
               "canonical": request.build_absolute_uri(request.path), **context}
    return render_to_string(template, context, request=request)


def _cached(request, build, *, content_type="text/html; charset=utf-8"):
    """The page from the cache, or built by `build(language) -> (html, meta)` and cached.
    `meta` (plain values) comes back with a cached page: the article id that counts a view."""
    language = _language(request)
    key = help_cache.page_key(language, _branding_stamp(request), request.path)
    entry = help_cache.get_page(key)
    if entry is None:
        with translation.override(language):
            html, meta = build(language)
        nonce = getattr(request, "csp_nonce", "")
        entry = json.dumps({"html": html.replace(str(nonce), NONCE_MARK) if nonce else html, "meta": meta})
        help_cache.set_page(key, entry)
    data = json.loads(entry)
    html = data["html"].replace(NONCE_MARK, str(getattr(request, "csp_nonce", "")))
    response = HttpResponse(html, content_type=content_type)
    response["Content-Language"] = language
    response["Cache-Control"] = "public, max-age=60"
    return response, data["meta"]


@require_GET
def home_view(request):
    def build(language):
        categories = [
            {"category": category,
             "articles": list(selectors.help_articles().filter(category=category).order_by("title")[:6])}
            for category in selectors.help_categories()
        ]
        return _render(request, "web/help/home.html", {"categories": categories}, language), {}

    return _cached(request, build)[0]


@require_GET
def category_view(request, category_slug: str):
    def build(language):
        category = selectors.help_category(category_slug)
        if category is None:
            raise Http404
        articles = selectors.help_articles().filter(category=category).order_by("title", "id")
        return _render(request, "web/help/category.html",
                       {"category": category, "articles": articles}, language), {}

    return _cached(request, build)[0]


@require_GET
def article_view(request, category_slug: str, article_slug: str):
    def build(language):
        article = selectors.help_article(category_slug, article_slug)
        if article is None:
            raise Http404
        related = selectors.help_articles().filter(category=article.category).exclude(pk=article.pk)
        return _render(request, "web/help/article.html", {
            "article": article, "category": article.category,
            "related": related.order_by("title")[:5], "stars": range(1, 6),
        }, language), {"article_id": article.pk}

    response, meta = _cached(request, build)
    counters.view_count(meta["article_id"])
    get_token(request)  # the CSRF cookie the feedback buttons send back
    # It may carry that cookie: browsers keep it a minute, shared caches never store it.
    response["Cache-Control"] = "private, max-age=60"
    return response


@require_GET
def search_view(request):
    q = request.GET.get("q", "").strip()[:200]
    language = _language(request)
    with translation.override(language):
        results = list(selectors.help_search(q)[:SEARCH_RESULTS]) if q else []
        html = _render(request, "web/help/search.html", {"q": q, "results": results}, language)
    response = HttpResponse(html)
    response["Content-Language"] = language
    return response


@require_GET
def sitemap_view(request):
    def build(language):
        absolute = request.build_absolute_uri
        urls = [{"loc": absolute("/help/")}]
        urls += [{"loc": absolute(f"/help/{c.slug}/")} for c in selectors.help_categories()]
        urls += [{"loc": absolute(selectors.help_path(a)), "lastmod": a.updated_at}
                 for a in selectors.help_articles().order_by("id")]
        return render_to_string("web/help/sitemap.xml", {"urls": urls}), {}

    return _cached(request, build, content_type="application/xml; charset=utf-8")[0]


@require_POST
def feedback_view(request, category_slug: str, article_slug: str):
    """`{"helpful": true|false}` or `{"stars": 1..5}` from a visitor, once a day per address."""
    article = selectors.help_article(category_slug, article_slug)
    if article is None:
        raise Http404
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not ({"helpful", "stars"} & set(body)):
        return JsonResponse({"error": {"code": "validation_error", "message": _("Invalid feedback."),
                                       "details": [{"field": "helpful", "message": _("Required.")}]}},
                            status=422)
    kind = "vote" if "helpful" in body else "rating"
    key = f"help-{kind}:{request.tenant.schema_name}:{client_ip(request)}:{article.pk}"
    stars = body.get("stars")
    try:
        if kind == "rating" and (isinstance(stars, bool) or stars not in range(1, 6)):
            raise ValidationFailed(details=[{"field": "stars", "message": _("Rate from 1 to 5.")}])
        ratelimit.hit(key, limit=FEEDBACK_PER_DAY, window=24 * 3600,
                      message=_("Thanks, we already have your feedback on this article."))
        if kind == "vote":
            services.article_vote(article_id=article.pk, helpful=bool(body["helpful"]))
        else:
            services.article_rate(article_id=article.pk, stars=stars)
    except DomainError as exc:
        return domain_error_response(exc)
    return JsonResponse({"ok": True, "message": _("Thanks for your feedback!")})

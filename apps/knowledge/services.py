"""Writes of the knowledge base: categories and articles (managers), and the public feedback of the
help centre (helpful / not helpful votes and 1–5 ratings, rate-limited per address by the caller).

Every write drops the company's cached help-centre pages once it commits (`help_cache`).
"""

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.audit.services import audit_record
from apps.knowledge import help_cache
from apps.knowledge.models import Article, Category
from apps.knowledge.rendering import plain_summary, render_markdown
from conversa.errors import Conflict, NotFound, ValidationFailed, full_clean

MAX_TAGS = 20
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}
_UNSET = object()


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def _free_slug(model, base: str, *, exclude_pk=None, **scope) -> str:
    """`base`, or `base-2`, `base-3`… whichever is not taken within `scope`."""
    base = (base or "item")[:70].strip("-") or "item"
    taken = set(
        model.objects.filter(slug__startswith=base, **scope).exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


# --- categories ----------------------------------------------------------------------------------

def category_create(*, actor, name: str, slug: str | None = None, position: int = 0,
                    description: str = "") -> Category:
    permissions.check(actor, "knowledge.write")
    name = (name or "").strip()
    if not name:
        raise _invalid("name", _("Give the category a name."))
    with transaction.atomic():
        if slug and Category.objects.filter(slug=slug).exists():
            raise _invalid("slug", _("Another category already uses this address."))
        category = Category(name=name, slug=slug or _free_slug(Category, slugify(name)),
                            position=position, description=description or "")
        full_clean(category)
        category.save()
        help_cache.bump_on_commit()
    return category


def category_update(*, actor, category: Category, name=_UNSET, slug=_UNSET, position=_UNSET,
                    description=_UNSET) -> Category:
    permissions.check(actor, "knowledge.write")
    with transaction.atomic():
        category = Category.objects.select_for_update().get(pk=category.pk)
        if name is not _UNSET:
            if not (name or "").strip():
                raise _invalid("name", _("Give the category a name."))
            category.name = name.strip()
        if slug is not _UNSET:
            if Category.objects.filter(slug=slug).exclude(pk=category.pk).exists():
                raise _invalid("slug", _("Another category already uses this address."))
            category.slug = slug
        if position is not _UNSET:
            category.position = position
        if description is not _UNSET:
            category.description = description or ""
        full_clean(category)
        category.save()
        help_cache.bump_on_commit()
    return category


def category_delete(*, actor, category: Category, request=None) -> None:
    """409 while articles are filed under it (they would lose their address)."""
    permissions.check(actor, "knowledge.write")
    with transaction.atomic():
        if Article.objects.filter(category=category).exists():
            raise Conflict(_("Move or delete this category's articles first."))
        audit_record(action="knowledge.category.deleted", entity_type="knowledge_category",
                     entity_id=category.pk, actor=actor, request=request,
                     changes={"name": [category.name, None]})
        category.delete()
        help_cache.bump_on_commit()


# --- articles ------------------------------------------------------------------------------------

def _clean_tags(tags) -> list[str]:
    cleaned = []
    for tag in tags or []:
        tag = str(tag).strip()
        if not tag:
            continue
        if len(tag) > 50:
            raise _invalid("tags", _("A tag can be at most 50 characters."))
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise _invalid("tags", _("At most %(n)d tags.") % {"n": MAX_TAGS})
    return cleaned


def _category(category_id) -> Category:
    category = Category.objects.filter(pk=category_id).first() if category_id else None
    if category is None:
        raise _invalid("category_id", _("Choose an existing category."))
    return category


def _render(article: Article) -> None:
    article.body_html = render_markdown(article.body)
    article.summary = plain_summary(article.body_html)


def _check_choices(article: Article) -> None:
    if article.status not in Article.Status.values:
        raise _invalid("status", _("Use draft or published."))
    if article.visibility not in Article.Visibility.values:
        raise _invalid("visibility", _("Use public or internal."))
    if article.language and article.language not in LANGUAGE_CODES:
        raise _invalid("language", _("Unknown language."))
    if not article.title.strip():
        raise _invalid("title", _("Give the article a title."))


def article_create(*, actor, category_id: int, title: str, body: str = "", slug: str | None = None,
                   tags=None, status: str = Article.Status.DRAFT,
                   visibility: str = Article.Visibility.PUBLIC, language: str = "") -> Article:
    """A new article; its HTML is rendered and stored now, so no page renders it again."""
    permissions.check(actor, "knowledge.write")
    with transaction.atomic():
        category = _category(category_id)
        article = Article(
            category=category, title=(title or "").strip(), body=body or "", tags=_clean_tags(tags),
            status=status, visibility=visibility, language=language or "",
            author=permissions.acting_user(actor),
        )
        _check_choices(article)
        if slug and Article.objects.filter(category=category, slug=slug).exists():
            raise _invalid("slug", _("Another article of this category already uses this address."))
        article.slug = slug or _free_slug(Article, slugify(article.title), category=category)
        if article.status == Article.Status.PUBLISHED:
            article.published_at = timezone.now()
        _render(article)
        full_clean(article, exclude=["category"])
        article.save()
        help_cache.bump_on_commit()
    return article


ARTICLE_FIELDS = ("category_id", "title", "slug", "body", "tags", "status", "visibility", "language")


def article_update(*, actor, article: Article, request=None, **changes) -> Article:
    """Change any of ARTICLE_FIELDS; publishing stamps `published_at`, a status change is audited."""
    permissions.check(actor, "knowledge.write")
    unknown = set(changes) - set(ARTICLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown article fields {sorted(unknown)}")
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        before = article.status
        if "category_id" in changes:
            article.category = _category(changes["category_id"])
        for field in ("title", "body", "status", "visibility", "language"):
            if field in changes and changes[field] is not None:
                setattr(article, field, changes[field] if field != "title" else changes[field].strip())
        if "tags" in changes and changes["tags"] is not None:
            article.tags = _clean_tags(changes["tags"])
        _check_choices(article)
        if changes.get("slug"):
            article.slug = changes["slug"]
        clash = Article.objects.filter(category=article.category, slug=article.slug).exclude(pk=article.pk)
        if clash.exists():
            if changes.get("slug"):
                raise _invalid("slug", _("Another article of this category already uses this address."))
            # Moved to a category where its address is taken: it gets a free one there.
            article.slug = _free_slug(Article, article.slug, category=article.category, exclude_pk=article.pk)
        if article.status == Article.Status.PUBLISHED and before != Article.Status.PUBLISHED:
            article.published_at = timezone.now()
        _render(article)
        full_clean(article, exclude=["category"])
        article.save()
        if before != article.status:
            verb = "published" if article.status == Article.Status.PUBLISHED else "unpublished"
            audit_record(action=f"knowledge.article.{verb}",
                         entity_type="knowledge_article", entity_id=article.pk, actor=actor, request=request,
                         changes={"status": [before, article.status]})
        help_cache.bump_on_commit()
    return article


def article_delete(*, actor, article: Article, request=None) -> None:
    permissions.check(actor, "knowledge.write")
    with transaction.atomic():
        audit_record(action="knowledge.article.deleted", entity_type="knowledge_article",
                     entity_id=article.pk, actor=actor, request=request,
                     changes={"title": [article.title, None]})
        article.delete()
        help_cache.bump_on_commit()


# --- public feedback -----------------------------------------------------------------------------

def _public_article(article_id: int):
    articles = Article.objects.filter(pk=article_id, status=Article.Status.PUBLISHED,
                                      visibility=Article.Visibility.PUBLIC)
    if not articles.exists():
        raise NotFound()
    return articles


def article_vote(*, article_id: int, helpful: bool) -> None:
    """A visitor's helpful / not helpful (public articles only; one atomic increment)."""
    field = "helpful_count" if helpful else "not_helpful_count"
    _public_article(article_id).update(**{field: F(field) + 1})


def article_rate(*, article_id: int, stars: int) -> None:
    """A visitor's 1–5 rating (public articles only)."""
    if not isinstance(stars, int) or not 1 <= stars <= 5:
        raise _invalid("stars", _("Rate from 1 to 5."))
    _public_article(article_id).update(rating_count=F("rating_count") + 1, rating_sum=F("rating_sum") + stars)

"""Reads of the knowledge base: everything for the staff (`knowledge.read`), and only published
public articles for the help centre and the composer's article picker."""

from django.db.models import Count, Q, QuerySet

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.contacts.search import accent_free_contains
from apps.knowledge.models import Article, Category
from conversa.errors import NotFound


def text_match(q: str) -> Q:
    """Title or body containing `q` (or a tag equal to it), blind to case and accents."""
    return (Q(accent_free_contains("title", q)) | Q(accent_free_contains("body", q))
            | Q(tags__contains=[q]))


# --- the staff -----------------------------------------------------------------------------------

def articles_visible_to(actor: Actor) -> QuerySet[Article]:
    """Every article, drafts and internal ones included, for whoever may read the knowledge base."""
    permissions.check(actor, "knowledge.read")
    return Article.objects.select_related("category", "author")


def article_list(actor: Actor, *, category: int | str | None = None, status: str | None = None,
                 visibility: str | None = None, q: str | None = None) -> QuerySet[Article]:
    articles = articles_visible_to(actor)
    if category:
        articles = articles.filter(category_id=category) if str(category).isdigit() else \
            articles.filter(category__slug=category)
    if status:
        articles = articles.filter(status=status)
    if visibility:
        articles = articles.filter(visibility=visibility)
    if q and q.strip():
        articles = articles.filter(text_match(q.strip()))
    return articles


def article_get_for(actor: Actor, article_id: int) -> Article:
    article = articles_visible_to(actor).filter(pk=article_id).first()
    if article is None:
        raise NotFound()
    return article


def categories_visible_to(actor: Actor) -> QuerySet[Category]:
    permissions.check(actor, "knowledge.read")
    return Category.objects.annotate(article_count=Count("articles"))


def category_get_for(actor: Actor, category_id: int) -> Category:
    category = categories_visible_to(actor).filter(pk=category_id).first()
    if category is None:
        raise NotFound()
    return category


# --- the help centre (anyone, anonymous) ------------------------------------------------------

def help_articles() -> QuerySet[Article]:
    """What the public may read: published and public, nothing else, ever."""
    return Article.objects.filter(
        status=Article.Status.PUBLISHED, visibility=Article.Visibility.PUBLIC,
    ).select_related("category")


def help_categories() -> QuerySet[Category]:
    """Categories holding at least one public article, with how many."""
    public = Q(articles__status=Article.Status.PUBLISHED, articles__visibility=Article.Visibility.PUBLIC)
    return Category.objects.annotate(public_count=Count("articles", filter=public)).filter(public_count__gt=0)


def help_category(slug: str) -> Category | None:
    return help_categories().filter(slug=slug).first()


def help_article(category_slug: str, slug: str) -> Article | None:
    return help_articles().filter(category__slug=category_slug, slug=slug).first()


def help_search(q: str) -> QuerySet[Article]:
    return help_articles().filter(text_match(q)).order_by("-published_at", "-id")


def help_path(article: Article) -> str:
    """The article's address on the help centre (any of the company's hosts)."""
    return f"/help/{article.category.slug}/{article.slug}"


def picker_articles(actor: Actor, q: str = "") -> QuerySet[Article]:
    """Articles an agent may link in a reply: those a customer can open (published and public)."""
    permissions.check(actor, "knowledge.read")
    articles = help_articles().order_by("title", "id")
    return articles.filter(text_match(q.strip())) if q and q.strip() else articles

"""`/api/v1/knowledge`: categories and articles of the knowledge base (SPEC §11, §15.1). Everyone
reads every article, internal and drafts included (keys: `knowledge:read`); supervisors and admins
write (`knowledge:write`). The plan middleware refuses every path here without `knowledge_base`."""

import datetime as dt
from typing import Literal

from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.knowledge import selectors, services
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["knowledge"])

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class CategoryOut(Schema):
    id: int
    name: str
    slug: str
    position: int
    description: str
    article_count: int = 0
    created_at: dt.datetime
    updated_at: dt.datetime


class CategoryPage(Schema):
    items: list[CategoryOut]
    next_cursor: str | None


class CategoryIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    slug: str | None = Field(None, max_length=80, pattern=SLUG)
    position: int = Field(0, ge=0)
    description: str = Field("", max_length=500)


class CategoryPatch(Schema):
    name: str = Field(None, min_length=1, max_length=120)
    slug: str = Field(None, max_length=80, pattern=SLUG)
    position: int = Field(None, ge=0)
    description: str = Field(None, max_length=500)


class ArticleOut(Schema):
    id: int
    category_id: int
    category_slug: str
    title: str
    slug: str
    body: str
    body_html: str
    summary: str
    tags: list[str]
    status: str
    visibility: str
    language: str
    author_id: int | None
    views: int
    helpful_count: int
    not_helpful_count: int
    rating_count: int
    rating_average: float | None
    published_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    public_url: str | None = Field(None, description="On the help centre; only published public articles.")

    @staticmethod
    def resolve_category_slug(article):
        return article.category.slug

    @staticmethod
    def resolve_public_url(article, context):
        if not article.is_on_help_centre:
            return None
        return context["request"].build_absolute_uri(selectors.help_path(article))


class ArticlePage(Schema):
    items: list[ArticleOut]
    next_cursor: str | None


Status_ = Literal["draft", "published"]
Visibility = Literal["public", "internal"]


class ArticleIn(Schema):
    category_id: int
    title: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(None, max_length=120, pattern=SLUG)
    body: str = Field("", max_length=200_000)
    tags: list[str] = Field(default_factory=list)
    status: Status_ = "draft"
    visibility: Visibility = "public"
    language: str = Field("", max_length=10)


class ArticlePatch(Schema):
    category_id: int = None
    title: str = Field(None, min_length=1, max_length=200)
    slug: str = Field(None, max_length=120, pattern=SLUG)
    body: str = Field(None, max_length=200_000)
    tags: list[str] = None
    status: Status_ = None
    visibility: Visibility = None
    language: str = Field(None, max_length=10)


class ArticleFilters(PageParams):
    category: str | None = Field(None, description="A category's id or slug.")
    status: Status_ | None = None
    visibility: Visibility | None = None
    q: str | None = Field(None, max_length=200, description="Title or text, blind to accents and case.")


@router.get("/categories", response=CategoryPage)
def list_categories(request, page: Query[PageParams]):
    return page_of(selectors.categories_visible_to(request.auth), page, ordering=("position", "id"))


@router.post("/categories", response={201: CategoryOut})
def create_category(request, payload: CategoryIn):
    category = services.category_create(actor=request.auth, **payload.dict())
    return Status(201, selectors.category_get_for(request.auth, category.pk))


@router.get("/categories/{int:category_id}", response=CategoryOut)
def get_category(request, category_id: int):
    return selectors.category_get_for(request.auth, category_id)


@router.patch("/categories/{int:category_id}", response=CategoryOut)
def update_category(request, category_id: int, payload: CategoryPatch):
    category = selectors.category_get_for(request.auth, category_id)
    services.category_update(actor=request.auth, category=category, **payload.dict(exclude_unset=True))
    return selectors.category_get_for(request.auth, category_id)


@router.delete("/categories/{int:category_id}", response={204: None})
def delete_category(request, category_id: int):
    category = selectors.category_get_for(request.auth, category_id)
    services.category_delete(actor=request.auth, category=category, request=request)
    return Status(204, None)


@router.get("/articles", response=ArticlePage)
def list_articles(request, filters: Query[ArticleFilters]):
    articles = selectors.article_list(request.auth, category=filters.category, status=filters.status,
                                      visibility=filters.visibility, q=filters.q)
    return page_of(articles, filters, ordering=("-updated_at", "-id"))


@router.post("/articles", response={201: ArticleOut})
def create_article(request, payload: ArticleIn):
    article = services.article_create(actor=request.auth, **payload.dict())
    return Status(201, selectors.article_get_for(request.auth, article.pk))


@router.get("/articles/{int:article_id}", response=ArticleOut)
def get_article(request, article_id: int):
    return selectors.article_get_for(request.auth, article_id)


@router.patch("/articles/{int:article_id}", response=ArticleOut)
def update_article(request, article_id: int, payload: ArticlePatch):
    article = selectors.article_get_for(request.auth, article_id)
    services.article_update(actor=request.auth, article=article, request=request,
                            **payload.dict(exclude_unset=True))
    return selectors.article_get_for(request.auth, article_id)


@router.delete("/articles/{int:article_id}", response={204: None})
def delete_article(request, article_id: int):
    article = selectors.article_get_for(request.auth, article_id)
    services.article_delete(actor=request.auth, article=article, request=request)
    return Status(204, None)

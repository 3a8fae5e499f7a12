"""The knowledge base: categories and Markdown articles, some of them published on the public help
centre (`/help/` on the company's hosts)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name", "id"]

    def __str__(self):
        return self.name


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    class Visibility(models.TextChoices):
        # Public articles are on the help centre once published; internal ones only for the staff.
        PUBLIC = "public", _("Public")
        INTERNAL = "internal", _("Internal")

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=120)
    body = models.TextField(blank=True)  # Markdown as written
    # `body` rendered and sanitised (apps.knowledge.rendering), kept so no page renders per view.
    body_html = models.TextField(blank=True, editable=False)
    # The first words of the body as plain text: the help centre's meta description and snippets.
    summary = models.CharField(max_length=300, blank=True, editable=False)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    language = models.CharField(max_length=10, blank=True)  # "" = any
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
    )
    # Counted in Redis per view and added here by a periodic task (apps.knowledge.counters).
    views = models.PositiveIntegerField(default=0)
    helpful_count = models.PositiveIntegerField(default=0)
    not_helpful_count = models.PositiveIntegerField(default=0)
    rating_count = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["category", "slug"], name="knowledge_article_slug_per_category"),
        ]
        # No index on status/visibility: most articles are published, and such an index led the
        # planner away from the search's trigram indexes (migration 0002).
        indexes = [GinIndex(fields=["tags"], name="knowledge_article_tags_gin")]

    def __str__(self):
        return self.title

    @property
    def is_on_help_centre(self) -> bool:
        return self.status == self.Status.PUBLISHED and self.visibility == self.Visibility.PUBLIC

    @property
    def rating_average(self) -> float | None:
        return round(self.rating_sum / self.rating_count, 2) if self.rating_count else None

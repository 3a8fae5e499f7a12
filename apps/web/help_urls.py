"""The public help centre at `/help/` on a company's hosts (apps.web.views.help_centre)."""

from django.urls import path

from apps.web.views import help_centre

app_name = "help"

urlpatterns = [
    path("", help_centre.home_view, name="home"),
    path("search", help_centre.search_view, name="search"),
    path("sitemap.xml", help_centre.sitemap_view, name="sitemap"),
    path("<slug:category_slug>/", help_centre.category_view, name="category"),
    path("<slug:category_slug>/<slug:article_slug>", help_centre.article_view, name="article"),
    path("<slug:category_slug>/<slug:article_slug>/feedback", help_centre.feedback_view, name="feedback"),
]

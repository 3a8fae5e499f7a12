"""The knowledge base in the agents' UI: articles and categories for supervisors and admins (list,
editor with a live preview through the one renderer, publish / unpublish, delete), and the
composer's article picker for everyone (published public articles, inserted as their help-centre
address). Writes go through `apps.knowledge.services` as the signed-in user."""

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.knowledge import selectors, services
from apps.knowledge.models import Article
from apps.knowledge.rendering import render_markdown
from apps.web.auth import action_required
from apps.web.forms import ServiceForm
from conversa.errors import DomainError

SECTION = {"section": "knowledge"}
PAGE_SIZE = 100
PICKER_SIZE = 8


def knowledge_page(action: str):
    """Pages of `action` in a company whose plan has the knowledge base; others learn why (403)."""

    def decorate(view):
        @action_required(action)
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.tenant.plan.has_feature("knowledge_base"):
                return render(request, "web/knowledge/not_in_plan.html", SECTION, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


class ArticleForm(ServiceForm):
    title = forms.CharField(label=_("Title"), max_length=200)
    category_id = forms.TypedChoiceField(label=_("Category"), coerce=int)
    slug = forms.SlugField(label=_("Address"), max_length=120, required=False,
                           help_text=_("Empty: made from the title."))
    body = forms.CharField(label=_("Text (Markdown)"), required=False, max_length=200_000,
                           widget=forms.Textarea(attrs={"rows": 18, "data-preview-source": ""}))
    tags = forms.CharField(label=_("Tags"), required=False, max_length=1000,
                           help_text=_("Comma-separated."))
    visibility = forms.ChoiceField(label=_("Visibility"), choices=Article.Visibility.choices,
                                   help_text=_("Public articles appear on the help centre once published."))
    language = forms.ChoiceField(label=_("Language"), required=False)

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category_id"].choices = [(c.pk, c.name) for c in categories]
        self.fields["language"].choices = [("", _("Any")), *settings.LANGUAGES]

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        data["tags"] = [tag.strip() for tag in data["tags"].split(",") if tag.strip()]
        if not data["slug"]:
            data.pop("slug")
        return data


class CategoryForm(ServiceForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), required=False, max_length=500)
    position = forms.IntegerField(label=_("Position"), min_value=0, initial=0, required=False)


@knowledge_page("knowledge.write")
@require_http_methods(["GET", "POST"])
def knowledge_view(request):
    """The articles (filtered) and the categories, with a form for a new category."""
    category_form = CategoryForm(request.POST or None)
    if request.method == "POST" and category_form.is_valid():
        try:
            services.category_create(actor=request.user, name=category_form.cleaned_data["name"],
                                     description=category_form.cleaned_data["description"],
                                     position=category_form.cleaned_data["position"] or 0)
        except DomainError as exc:
            category_form.show_error(exc)
        else:
            messages.success(request, _("Category created."))
            return redirect("web:knowledge")
    filters = {key: request.GET.get(key) or None for key in ("q", "status", "category")}
    articles = selectors.article_list(request.user, **filters)
    return render(request, "web/knowledge/list.html", {
        **SECTION, "articles": list(articles[:PAGE_SIZE]), "filters": filters,
        "categories": selectors.categories_visible_to(request.user), "category_form": category_form,
        "statuses": Article.Status.choices,
    })


@knowledge_page("knowledge.write")
@require_POST
def category_action_view(request, category_id: int, action: str):
    category = selectors.category_get_for(request.user, category_id)
    try:
        if action == "delete":
            services.category_delete(actor=request.user, category=category, request=request)
            messages.success(request, _("Category deleted."))
        else:
            form = CategoryForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Give the category a name."))
                return redirect("web:knowledge")
            services.category_update(actor=request.user, category=category, name=form.cleaned_data["name"],
                                     description=form.cleaned_data["description"],
                                     position=form.cleaned_data["position"] or 0)
            messages.success(request, _("Category saved."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("web:knowledge")


@knowledge_page("knowledge.write")
@require_http_methods(["GET", "POST"])
def article_edit_view(request, article_id: int | None = None):
    """New article (draft) or an existing one; the preview follows the text as it is typed."""
    article = selectors.article_get_for(request.user, article_id) if article_id else None
    initial = {}
    if article is not None:
        initial = {"title": article.title, "category_id": article.category_id, "slug": article.slug,
                   "body": article.body, "tags": ", ".join(article.tags),
                   "visibility": article.visibility, "language": article.language}
    form = ArticleForm(request.POST or None, initial=initial,
                       categories=selectors.categories_visible_to(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            if article is None:
                article = services.article_create(actor=request.user, **form.changes())
            else:
                services.article_update(actor=request.user, article=article, request=request,
                                        **form.changes())
        except DomainError as exc:
            form.show_error(exc)
        else:
            messages.success(request, _("Article saved."))
            return redirect("web:knowledge-article", article_id=article.pk)
    return render(request, "web/knowledge/editor.html", {
        **SECTION, "article": article, "form": form,
        "preview": render_markdown(form["body"].value() or ""),
        "public_url": (request.build_absolute_uri(selectors.help_path(article))
                       if article is not None and article.is_on_help_centre else ""),
    }, status=422 if request.method == "POST" else 200)


@knowledge_page("knowledge.write")
@require_POST
def article_action_view(request, article_id: int, action: str):
    article = selectors.article_get_for(request.user, article_id)
    try:
        if action == "delete":
            services.article_delete(actor=request.user, article=article, request=request)
            messages.success(request, _("Article deleted."))
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = reverse("web:knowledge")
                return response
            return redirect("web:knowledge")
        status = {"publish": Article.Status.PUBLISHED, "unpublish": Article.Status.DRAFT}.get(action)
        if status is None:
            return HttpResponse(status=404)
        services.article_update(actor=request.user, article=article, status=status, request=request)
        messages.success(request, _("Article published.") if status == Article.Status.PUBLISHED
                         else _("Article unpublished."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("web:knowledge-article", article_id=article.pk)


@knowledge_page("knowledge.write")
@require_POST
def preview_view(request):
    """The editor's live preview: the text rendered exactly as the help centre will show it."""
    return HttpResponse(render_markdown(request.POST.get("body", "")[:200_000]))


@knowledge_page("knowledge.read")
@require_GET
def picker_view(request):
    """The composer's article picker: published public articles matching `q`, with their address."""
    q = (request.GET.get("q") or request.GET.get("kb_q") or "").strip()[:200]
    articles = selectors.picker_articles(request.user, q)[:PICKER_SIZE]
    results = [{"article": a, "url": request.build_absolute_uri(selectors.help_path(a))} for a in articles]
    return render(request, "web/knowledge/picker_results.html", {"results": results, "q": q})

"""The customer's rating page (`/csat/<token>`): public, no login, branded like the login page and in
the company's language; a plain form (works without JavaScript) protected by Django's CSRF check."""

from django.http import Http404
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from apps.conversations import csat
from conversa.errors import ValidationFailed

RATINGS = (1, 2, 3, 4, 5)


@require_http_methods(["GET", "POST"])
def rating_view(request, token: str):
    # The customer has no account here: the company's language, whatever the browser says.
    with translation.override(request.tenant.default_language or "en"):
        conversation = csat.conversation_for_token(token)
        if conversation is None:
            raise Http404
        context = {
            "ratings": RATINGS, "rating": conversation.csat_rating, "comment": conversation.csat_comment,
            "answered": conversation.csat_answered_at is not None, "saved": False, "error": "",
        }
        status = 200
        if request.method == "POST":
            try:
                conversation = csat.csat_answer_by_link(
                    token=token, rating=request.POST.get("rating"), comment=request.POST.get("comment", ""),
                )
            except ValidationFailed as exc:
                context["error"], status = exc.details[0]["message"], 422
                context["comment"] = request.POST.get("comment", "")[:csat.MAX_COMMENT]
            else:
                if conversation is None:
                    raise Http404
                context.update(rating=conversation.csat_rating, comment=conversation.csat_comment, saved=True)
        response = render(request, "web/csat.html", context, status=status)
    response["Cache-Control"] = "private, no-store"
    # The token is in the URL: never sent to another site. (no-referrer would make the form post an
    # `Origin: null`, which the CSRF check refuses.)
    response["Referrer-Policy"] = "same-origin"
    return response

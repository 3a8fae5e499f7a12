"""Files in the agents' UI: served to whoever may see them (`selectors.media_visible_to`)."""

from django.http import Http404
from django.views.decorators.http import require_GET

from apps.conversations.selectors import media_get_for
from apps.media.views import VARIANTS, file_response
from apps.web.auth import agent_required


@agent_required
@require_GET
def media_view(request, media_id: int, variant: str):
    if variant not in VARIANTS:
        raise Http404
    return file_response(media_get_for(request.user, media_id), variant)

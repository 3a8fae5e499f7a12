"""Files in the agents' UI: served to users who may see a message carrying them, or who uploaded them."""

from django.http import Http404
from django.views.decorators.http import require_GET

from apps.conversations.models import Message
from apps.conversations.selectors import user_may_see
from apps.media.models import MediaFile
from apps.media.views import VARIANTS, file_response
from apps.web.auth import agent_required


@agent_required
@require_GET
def media_view(request, media_id: int, variant: str):
    media = MediaFile.objects.filter(pk=media_id).first()
    if media is None or variant not in VARIANTS:
        raise Http404
    user = request.user
    allowed = media.uploaded_by_id == user.pk or any(
        user_may_see(user, message.conversation)
        for message in Message.objects.filter(media=media).select_related("conversation")
    )
    if not allowed:
        raise Http404
    return file_response(media, variant)

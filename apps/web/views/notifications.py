"""The notifications dropdown."""

from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.notifications import services
from apps.notifications.models import Notification
from apps.web.auth import agent_required


def _context(user) -> dict:
    mine = Notification.objects.filter(user=user)
    return {"notifications": mine.order_by("-created_at")[:20],
            "unread": mine.filter(read_at__isnull=True).count()}


@agent_required
@require_GET
def list_view(request):
    return render(request, "web/partials/notifications.html", _context(request.user))


@agent_required
@require_POST
def read_all_view(request):
    services.notifications_mark_all_read(user=request.user)
    return render(request, "web/partials/notifications.html", _context(request.user))

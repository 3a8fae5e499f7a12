"""Small views of the project itself."""

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from conversa.errors import error_response


# Exempt like the API's own views (they authenticate by token, not cookie): otherwise Django's
# CSRF check answers a POST to an unknown path with 403 before this can say 404.
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    return error_response(404, "not_found", _("There is no such endpoint."))


def home(request):
    return JsonResponse({
        "name": "Conversa",
        "platform_api": request.build_absolute_uri("/platform/api/v1/docs"),
        "console": request.build_absolute_uri("/console/"),
    })

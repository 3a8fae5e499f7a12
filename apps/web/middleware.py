"""The agents' UI speaks each user's own language, whatever the browser asks for."""

from django.utils import translation

from apps.web.i18n import supported_language


class UserLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and request.path.startswith("/app/"):
            language = supported_language(user.language)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)

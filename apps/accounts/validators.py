"""Password validators Django does not ship."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class MaximumLengthValidator:
    """Bound passwords: hashing megabyte passwords is a cheap denial of service."""

    def __init__(self, max_length: int = 128):
        self.max_length = max_length

    def validate(self, password, user=None):
        if len(password) > self.max_length:
            raise ValidationError(
                _("This password is too long: at most %(max)d characters.") % {"max": self.max_length},
                code="password_too_long",
            )

    def get_help_text(self):
        return _("Your password can't be longer than %(max)d characters.") % {"max": self.max_length}

"""Errors of the campaigns app, rendered as the SPEC §13 body."""

from django.utils.translation import gettext_lazy as _

from conversa.errors import Conflict


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = _("The campaign cannot do this in its current status.")

from django.db import models


class ReleaseNote(models.Model):
    """A table the next release adds; the running release knows nothing of it."""

    text = models.CharField(max_length=200)

    def __str__(self):
        return self.text

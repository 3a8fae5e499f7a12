"""Logging setup: Django's dictConfig, plus secrets in URLs redacted from uvicorn's log lines."""

import logging
import logging.config
import re

# Query parameters that carry a credential: the realtime access token (`/ws/v1/?token=…`, which
# older clients still send) and the signature of a media link (a download without a login).
SECRET_PARAMETERS = ("token", "access_token", "signature")
_SECRET_IN_QUERY = re.compile(
    r"([?&](?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&\s\"']*", re.IGNORECASE,
)
REDACTED = "[redacted]"
# uvicorn logs HTTP requests on uvicorn.access and websocket handshakes ("WebSocket /ws/v1/?token=…
# [accepted]") on uvicorn.error, each with the path and its query string as an argument.
URL_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return _SECRET_IN_QUERY.sub(lambda match: match.group(1) + REDACTED, text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record's message and string arguments with the secret query values replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: redact(value) if isinstance(value, str) else value
                           for key, value in record.args.items()}
        return True


def configure(logging_settings: dict) -> None:
    """Django's LOGGING_CONFIG: apply LOGGING, then filter uvicorn's loggers.

    The filter goes on the loggers themselves rather than through LOGGING, which would replace the
    handlers uvicorn installed (its access log format, `--no-access-log`).
    """
    if logging_settings:
        logging.config.dictConfig(logging_settings)
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecretsFilter) for existing in logger.filters):
            logger.addFilter(RedactSecretsFilter())

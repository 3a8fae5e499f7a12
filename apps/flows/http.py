"""The call an `http` node makes: guarded against internal addresses, bounded in time and size,
never following redirects (a redirect could lead past the guard)."""

import json

import httpx

from apps.flows.engine import HttpResult
from conversa.netguard import UnsafeOutboundURL, check_outbound_url

MAX_RESPONSE_BYTES = 1_000_000


def http_call(request: dict) -> HttpResult:
    """Make the call `engine.http_request` described; any failure is a result, never an exception."""
    url = request["url"]
    try:
        check_outbound_url(url)
    except UnsafeOutboundURL as exc:
        return HttpResult(ok=False, error=f"refused: {exc}")
    body = request.get("body")
    headers = dict(request.get("headers") or {})
    content = None
    if isinstance(body, dict | list):
        content = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str) and body:
        content = body.encode()
    try:
        with httpx.Client(timeout=request.get("timeout", 5), follow_redirects=False) as client, client.stream(
            request.get("method", "GET"), url, headers=headers, content=content
        ) as response:
            raw = b""
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) > MAX_RESPONSE_BYTES:
                    return HttpResult(ok=False, status=response.status_code, error="response too large")
    except httpx.TimeoutException:
        return HttpResult(ok=False, error="timeout")
    except httpx.HTTPError as exc:
        return HttpResult(ok=False, error=f"{exc.__class__.__name__}: {exc}"[:300])
    if not 200 <= response.status_code < 300:
        return HttpResult(ok=False, status=response.status_code, error=f"HTTP {response.status_code}")
    return HttpResult(ok=True, status=response.status_code, data=_decoded(raw))


def _decoded(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")

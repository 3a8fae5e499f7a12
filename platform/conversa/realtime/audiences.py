"""Which groups a user's sockets join, said by the apps that know who may see what.

Every socket joins its company's `staff` group and its own `user.{id}`; an app that sends frames
to a wider audience (conversations: `supervisors`, who see every conversation) registers the
suffixes a user belongs to, from the same rule its selectors apply.
"""

from collections.abc import Callable, Iterable

AudienceProvider = Callable[[object], Iterable[str]]
_providers: list[AudienceProvider] = []


def register_audiences(provider: AudienceProvider) -> AudienceProvider:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def audiences_of(user) -> list[str]:
    """Group suffixes for `user`'s sockets (runs in the user's schema: providers may query)."""
    suffixes = {"staff", f"user.{user.pk}"}
    for provider in _providers:
        suffixes.update(provider(user))
    return sorted(suffixes)

"""Whose figures an actor may read: `reports.read` (supervisors, admins, API keys with
`conversations:read`); admins and keys the whole company's, supervisors their teams' only."""

from dataclasses import dataclass

from apps.accounts import permissions
from apps.accounts.models import ApiKey, User
from apps.accounts.permissions import Actor
from apps.teams.selectors import team_ids_of


@dataclass(frozen=True)
class Scope:
    # None: the whole company; otherwise only figures of conversations in these teams.
    team_ids: frozenset[int] | None

    @property
    def whole_company(self) -> bool:
        return self.team_ids is None

    def sql(self, column: str) -> str:
        """A condition on `column` (a team id), with the named parameter `teams` (`params`)."""
        return "TRUE" if self.team_ids is None else f"{column} = ANY(%(teams)s)"

    @property
    def params(self) -> dict:
        return {} if self.team_ids is None else {"teams": sorted(self.team_ids)}


def report_scope(actor: Actor | None) -> Scope:
    permissions.check(actor, "reports.read")
    if isinstance(actor, ApiKey) or actor.role == User.Role.ADMIN:
        return Scope(team_ids=None)
    return Scope(team_ids=team_ids_of(actor))

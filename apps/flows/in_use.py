"""Whether a company uses flows at all (`conversa.in_use`): the listeners hear every event of every
company's conversations and ask this first, so a company without flows pays no query for them.
Publishing a flow marks it in use after its commit; a stale "yes" (the last flow deleted) costs a
few queries until it expires, never a missed trigger.
"""

from django.db import connection
from django.db.models import Q

from apps.flows.models import Flow, FlowSession
from conversa.in_use import InUseMark

MARK = InUseMark("flows")
in_use_key = MARK.key


def _any_flow() -> bool:
    return Flow.objects.filter(
        Q(deleted_at__isnull=True, published_version__isnull=False)
        | Q(sessions__status=FlowSession.Status.RUNNING)
    ).exists()


def flows_in_use() -> bool:
    return MARK.get(connection.schema_name, _any_flow)


mark_in_use_after_commit = MARK.mark_after_commit

"""A prepared read that locks rows is refused outside a transaction, as the ORM refuses it: its
locks would end with the statement. (Outside the tests' wrapping transaction, hence its own module.)"""

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError

from conversa.prepared import PreparedRead
from tenants.models import Company

locking = PreparedRead(lambda pk: Company.objects.select_for_update().filter(pk=pk), pk=0)


def test_a_locking_read_is_refused_outside_a_transaction_once_compiled(live_db, alpha):
    with transaction.atomic():  # compiled here, where the ORM's own check passes
        assert [company.schema_name for company in locking.all(pk=alpha.pk)] == [alpha.schema_name]
    with pytest.raises(TransactionManagementError):
        locking.all(pk=alpha.pk)

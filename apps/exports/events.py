"""Events the exports app publishes (names as in conversa.events)."""

# A backup was loaded into a company (restore_company): apps that keep derived data rebuild it.
COMPANY_RESTORED = "company.restored"

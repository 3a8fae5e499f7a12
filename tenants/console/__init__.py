"""The super-admin console at `/console/` on BASE_DOMAIN: companies, plans and the platform audit log."""

"""What a company's schema name may be: it travels in tasks, group names, cache keys and paths."""

import re

# ASCII only: Channels group names refuse anything else (tenancy-facts.md, trap 5).
SCHEMA_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

"""Password hashing: Argon2id at OWASP's minimum cost, which this hardware computes in about 50 ms.

Django's own Argon2 defaults (100 MiB, 8 lanes) cost several times more CPU and memory per login,
and PBKDF2 at 1,000,000 iterations costs about 300 ms: 16 agents signing in together waited 2.7 s.
Hashes made with other parameters or algorithms are re-hashed with these at the next login
(Django's `check_password` upgrades whatever `must_update` or a non-preferred algorithm flags).
"""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2


class ConversaArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id; never below OWASP's minimum whatever the settings say."""

    # Same algorithm name as Django's: hashes carry their parameters and verify either way.
    algorithm = "argon2"
    parallelism = 1

    @property
    def time_cost(self) -> int:
        return max(OWASP_MIN_TIME_COST, settings.ARGON2_TIME_COST)

    @property
    def memory_cost(self) -> int:
        return max(OWASP_MIN_MEMORY_KIB, settings.ARGON2_MEMORY_KIB)

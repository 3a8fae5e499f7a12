"""Close codes of the realtime socket (SPEC §13), shared by the consumer and whoever closes sockets."""

CLOSE_UNAUTHENTICATED = 4401
CLOSE_SUSPENDED = 4402
# Service restart: the socket may have missed frames, or what it may receive changed (its user's
# role); the client reconnects and catches up, as after any lost connection.
CLOSE_RESYNC = 1012

"""A release's additive tenant migration, for the rolling-deploy test only (never installed else)."""

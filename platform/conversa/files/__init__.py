"""Content inspection and image processing: pure functions any layer may use (media, branding)."""

"""gunicorn reads this file from its working directory (the image's /app) on every start.

The access log goes through a logger that masks tokens in request lines (S11).
"""

logger_class = "portal.redact.GunicornLogger"

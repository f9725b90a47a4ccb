"""Truthline's REST API (FastAPI). Build the ASGI app with `truthline.api.app.create_app(settings, engine)`.

Kept import-free so `truthline.api.deps` (used by the web pages) does not pull in every router.
"""

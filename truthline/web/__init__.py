"""Browser interface: Jinja2 pages and small vanilla JS/CSS (no build step, nothing loaded from outside).

`truthline.web.routes.router` holds the pages and `STATIC_DIR` the assets (`create_app` serves them at /static).
The session-cookie and CSRF rules the pages share with the REST API live in `truthline.api.deps`.
"""

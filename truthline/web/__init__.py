"""Browser interface: Jinja2 pages and small vanilla JS/CSS (no build step, nothing loaded from outside).

`truthline.web.routes.router` holds the pages; `truthline.web.routes.mount_static(app)` serves /static.
`truthline.web.session` holds the cookie/CSRF rules the REST API shares.
"""

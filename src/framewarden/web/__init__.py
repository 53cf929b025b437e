"""The moderators' dashboard: server-rendered pages, a little JavaScript, vendored Chart.js.

Pages are shells rendered with Jinja2; their script reads the same ``/v1``
API and events WebSocket as any client, signed in with a session cookie
(see :mod:`framewarden.api.session`).  Nothing is fetched from the network at
run time: static files (Chart.js included) are served from this package.
"""

from framewarden.web.routes import install

__all__ = ["install"]

"""The management console: a static page and its ES modules, served on the HTTP listener.

    GET /                  console/index.html
    GET /login             console/login.html (when authentication is on; docs/SECURITY.md)
    GET /console/{file}    console/<file> (``console.js``, ``console.css``, ...; no subdirectories)

The page is plain HTML, CSS and JavaScript modules shipped in the package (no build step, no
third-party front-end code): it renders everything from the public HTTP API (``/stats``,
``/stats/topics``, ``/topics/...``, ``/groups/...``), so every button is a request a script can make.
See docs/CONSOLE.md.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("console")
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# The page is small and changes with the package; revalidate rather than cache stale modules.
CACHE = "no-cache"

routes = web.RouteTableDef()


def _file(name: str) -> web.StreamResponse:
    path = STATIC / name
    kind = TYPES.get(path.suffix)
    if "/" in name or name.startswith(".") or kind is None or not path.is_file():
        raise web.HTTPNotFound(text="no such console file")
    return web.Response(body=path.read_bytes(), content_type=kind, charset="utf-8",
                        headers={"Cache-Control": CACHE, "X-Content-Type-Options": "nosniff"})


@routes.get("/", allow_head=False)
async def index(request: web.Request) -> web.StreamResponse:
    return _file("index.html")


@routes.get("/login", allow_head=False)
async def login_page(request: web.Request) -> web.StreamResponse:
    """The console's login page (used when logbroker.http.auth.enable is set)."""
    return _file("login.html")


@routes.get("/console/{file}", allow_head=False)
async def asset(request: web.Request) -> web.StreamResponse:
    return _file(request.match_info["file"])

"""Logging in to the HTTP API and the console.

    POST /auth/token    {"username", "password"} (or HTTP Basic) -> {"access_token", "token_type":
                        "Bearer", "expires_in"}: a bearer token for scripts
    POST /auth/login    {"username", "password"} -> the console's session: the token in an HttpOnly,
                        SameSite=Strict cookie (the page's script never sees it, and no password is
                        kept), and the CSRF token in a readable cookie and the body, to send back as
                        X-CSRF-Token with every state-changing request
    POST /auth/logout   clears both cookies
    GET  /auth/whoami   {"principal": "User:alice"} (User:ANONYMOUS when authentication is off)

Wrong credentials are 401 with a message; the attempt is logged without the password (auth.py).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from logbroker.http.auth import AUTH, CSRF_COOKIE, SESSION_COOKIE, HttpAuth, authenticate, now_ms
from logbroker.http.content import read_body, respond
from logbroker.http.errors import error_response
from logbroker.security.principal import Principal

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


async def _credentials(request: web.Request, auth: HttpAuth) -> tuple[str, str] | web.StreamResponse:
    if request.headers.get("Authorization", "").lower().startswith("basic "):
        found = authenticate(request, auth)
        if not isinstance(found, Principal):
            return found
        return found.name, ""
    if not request.can_read_body:  # neither Basic nor a body: no credentials at all
        response = error_response(request, 401, "SASL_AUTHENTICATION_FAILED",
                                  'credentials required: {"username": ..., "password": ...} as JSON, or HTTP Basic')
        response.headers["WWW-Authenticate"] = 'Bearer realm="logbroker"'
        return response
    body: Any = await read_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
            or not isinstance(body.get("password"), str):
        return error_response(request, 400, "INVALID_REQUEST",
                              'send {"username": ..., "password": ...} as JSON, or HTTP Basic credentials')
    user, password = body["username"], body["password"]
    if not auth.check_password(user, password):
        log.warning("failed HTTP login from %s (user %r)", request.remote, user)
        response = error_response(request, 401, "SASL_AUTHENTICATION_FAILED", "invalid user name or password")
        # Bearer, not Basic: a browser would otherwise open its own password dialog over the login page.
        response.headers["WWW-Authenticate"] = 'Bearer realm="logbroker"'
        return response
    return user, password


@routes.post("/auth/token")
async def issue_token(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    found = await _credentials(request, auth)
    if isinstance(found, web.StreamResponse):
        return found
    token, expires = auth.signer.issue(found[0], now_ms())
    log.info("issued an HTTP token to User:%s (%s)", found[0], request.remote)
    return respond(request, {"access_token": token, "token_type": "Bearer",
                             "expires_in": max(0, (expires - now_ms()) // 1000)})


@routes.post("/auth/login")
async def login(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    found = await _credentials(request, auth)
    if isinstance(found, web.StreamResponse):
        return found
    token, _ = auth.signer.issue(found[0], now_ms())
    csrf = auth.signer.csrf_for(token)
    response = respond(request, {"principal": str(Principal.user(found[0])), "csrf_token": csrf})
    max_age = auth.signer.lifetime_ms // 1000
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/", max_age=max_age,
                        secure=auth.secure_cookies)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="Strict", path="/", max_age=max_age,
                        secure=auth.secure_cookies)
    log.info("console login of User:%s (%s)", found[0], request.remote)
    return response


@routes.post("/auth/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


@routes.get("/auth/whoami", allow_head=False)
async def whoami(request: web.Request) -> web.StreamResponse:
    return respond(request, {"principal": str(request["principal"]),
                             "authentication": request.app[AUTH].enabled})

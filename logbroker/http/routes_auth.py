"""Logging in to the HTTP API and the console.

    POST /auth/token    {"username", "password"} (or HTTP Basic) -> {"access_token", "token_type":
                        "Bearer", "expires_in"}: a bearer token for scripts
    POST /auth/login    {"username", "password"} -> the console's session: the token in an HttpOnly,
                        SameSite=Strict cookie (the page's script never sees it, and no password is
                        kept), and the CSRF token in a readable cookie and the body, to send back as
                        X-CSRF-Token with every state-changing request
    POST /auth/logout   revokes the session's token (or the bearer token sent) and clears both cookies
    POST /auth/revoke   {"user": "alice"}: revokes every token issued to alice so far (an operator's
                        call: ALTER on the cluster, as AlterUserScramCredentials needs)
    GET  /auth/whoami   {"principal": "User:alice"} (User:ANONYMOUS when authentication is off)

Wrong credentials are 401 with a message; the attempt is logged without the password, and counted
against the client address and the user name: too many within the window answer 429 with
Retry-After (auth.py).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from logbroker.http.access import require_cluster
from logbroker.http.auth import AUTH, CSRF_COOKIE, SESSION_COOKIE, HttpAuth, authenticate, now_ms
from logbroker.http.content import read_body, respond
from logbroker.http.context import PRINCIPAL
from logbroker.http.errors import HttpError, error_response
from logbroker.security.acl import AclOperation
from logbroker.security.principal import Principal

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


async def _credentials(request: web.Request, auth: HttpAuth) -> tuple[str, str] | web.StreamResponse:
    if request.headers.get("Authorization", "").lower().startswith("basic "):
        found = await authenticate(request, auth)
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
    throttled = auth.throttled(request, user)
    if throttled is not None:
        return throttled
    if not await auth.check_password(user, password):
        log.warning("failed HTTP login from %s (user %r)", request.remote, user)
        auth.failed(request, user)
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
    token, expires = auth.issue(found[0], now_ms())
    log.info("issued an HTTP token to User:%s (%s)", found[0], request.remote)
    return respond(request, {"access_token": token, "token_type": "Bearer",
                             "expires_in": max(0, (expires - now_ms()) // 1000)})


@routes.post("/auth/login")
async def login(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    found = await _credentials(request, auth)
    if isinstance(found, web.StreamResponse):
        return found
    token, _ = auth.issue(found[0], now_ms())
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
    """Revoke the token this request carries (the console's session, or a bearer token), so a copy
    of it is worthless from now on, and clear the cookies."""
    auth = request.app[AUTH]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else request.cookies.get(SESSION_COOKIE, "")
    claims = auth.claims(token, now_ms()) if token else None
    if claims is not None:
        await auth.revocations.revoke_token(claims, now_ms())
        log.info("revoked an HTTP token of User:%s at logout (%s)", claims.user, request.remote)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


@routes.post("/auth/revoke")
async def revoke_user_tokens(request: web.Request) -> web.StreamResponse:
    """Every token issued to a user so far stops working (the operator's way to end sessions)."""
    require_cluster(request, AclOperation.ALTER)
    body: Any = await read_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("user"), str) or not body["user"]:
        raise HttpError(400, "INVALID_REQUEST", 'send {"user": "<name>"}')
    auth = request.app[AUTH]
    await auth.revocations.revoke_user(body["user"], now_ms())
    log.info("revoked every HTTP token of User:%s (asked by %s from %s)", body["user"], request[PRINCIPAL],
             request.remote)
    return respond(request, {"user": body["user"], "revoked": True})


@routes.get("/auth/whoami", allow_head=False)
async def whoami(request: web.Request) -> web.StreamResponse:
    return respond(request, {"principal": str(request[PRINCIPAL]),
                             "authentication": request.app[AUTH].enabled})

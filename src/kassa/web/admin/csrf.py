"""CSRF tokens for the admin forms.

Signed in, a form's token is derived from the session's token (an HMAC of a fixed label keyed
by it): one per session, nothing more to store, and unguessable without the cookie, which
scripts cannot read (HttpOnly) and other sites cannot send along with a form of theirs (the
cookie is SameSite=Lax, and the token is checked on every POST anyway). The sign-in form has
no session yet, so it uses a random token kept in a cookie of its own ("double submit").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FIELD = "csrf_token"
#: The sign-in form's token, before there is a session.
LOGIN_COOKIE = "kassa_login_csrf"


def token_for(session_token: str) -> str:
    """The CSRF token of the session whose cookie holds `session_token`."""
    return hmac.new(session_token.encode(), b"kassa admin csrf", hashlib.sha256).hexdigest()


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def matches(sent: object, expected: str | None) -> bool:
    """Whether the form sent the expected token (compared in constant time)."""
    return (
        isinstance(sent, str)
        and expected is not None
        and hmac.compare_digest(sent.encode(), expected.encode())
    )

"""Customer tokens: the embedding site's word, signed, for which customer a widget speaks.

A widget key is public (it is in the page), so the customer id a widget sends proves nothing. With a
secret shared with the site's backend (`SUPPORT_ROUTER_CUSTOMER_TOKEN_SECRET`), the backend signs the
signed-in customer's id into a short-lived JSON Web Token (HS256, audience `support-router`, `sub` the
customer id, `exp`), and a widget may open a conversation for a customer only with such a token.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from app.refusals import ForbiddenError

AUDIENCE = "support-router"
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
"""RFC 7518 asks for an HS256 key of at least 256 bits."""


def issue_customer_token(secret: str, customer_id: str, ttl: timedelta = timedelta(hours=1)) -> str:
    """A token naming `customer_id`, valid for `ttl`: what the site's backend hands its widget."""
    now = datetime.now(UTC)
    claims = {"sub": customer_id, "aud": AUDIENCE, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verified_customer(secret: str, token: str) -> str:
    """The customer id a valid token names; ForbiddenError for a forged, expired or foreign token."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "aud"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise ForbiddenError("the customer token has expired; the site must issue a new one") from error
    except jwt.InvalidTokenError as error:
        raise ForbiddenError(f"the customer token is not valid: {error}") from error
    customer = claims["sub"]
    if not isinstance(customer, str) or not customer or len(customer) > 128:
        raise ForbiddenError("the customer token names no customer id of at most 128 characters")
    return customer

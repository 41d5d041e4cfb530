"""API token authentication: knox's per-device tokens, looked up with one indexed query.

knox 5.1's ``TokenAuthentication`` reads every token of the token's user on each request to
delete the expired ones. Here the request reads only the token its key names (with its
user and the user's customer record, which every customer endpoint needs next); expired
tokens of the user are deleted when the user is given a new token (``issue_token``).
Expiry, refresh (``AUTO_REFRESH``, at most once a ``MIN_REFRESH_INTERVAL``) and the digest
check are knox's.
"""

import binascii
from hmac import compare_digest

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions


def issue_token(user) -> tuple[AuthToken, str]:
    """A new token for ``user`` (the token model row and the token to hand over), after the
    user's expired tokens are deleted."""
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    return AuthToken.objects.create(user)


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token):
        message = _("Invalid token.")
        token = token.decode("utf-8")
        try:
            digest = hash_token(token)
        except (TypeError, binascii.Error):
            raise exceptions.AuthenticationFailed(message) from None
        # token_key is indexed; tokens sharing a key prefix (never in practice) are all checked.
        for auth_token in AuthToken.objects.filter(
            token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH]
        ).select_related("user__customer"):
            if not compare_digest(digest, auth_token.digest):
                continue
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                username = auth_token.user.get_username()
                auth_token.delete()
                token_expired.send(sender=self.__class__, username=username, source="auth_token")
                break
            if knox_settings.AUTO_REFRESH and auth_token.expiry:
                self.renew_token(auth_token)
            return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed(message)


class TokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of these tokens: ``Authorization: Token <token>``."""

    target_class = TokenAuthentication
    name = "knoxApiToken"  # as before: the published schema does not change

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header("")
        )

from rest_framework.authentication import TokenAuthentication


class BearerAuthentication(TokenAuthentication):
    """DRF's token authentication with the `Bearer` keyword, as its docs suggest."""

    keyword = "Bearer"

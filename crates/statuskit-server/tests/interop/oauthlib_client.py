"""An OAuth2 client library we did not write (requests-oauthlib) signs in and calls the API.

Usage: oauthlib_client.py BASE_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD
"""
import os
import sys

# oauthlib insists on HTTPS; the service under test listens on loopback HTTP.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

from oauthlib.oauth2 import BackendApplicationClient, LegacyApplicationClient  # noqa: E402
from requests.auth import HTTPBasicAuth  # noqa: E402
from requests_oauthlib import OAuth2Session  # noqa: E402

base, client_id, secret, user, password = sys.argv[1:6]
token_url = base + "/oauth/token"
auth = HTTPBasicAuth(client_id, secret)

session = OAuth2Session(client=LegacyApplicationClient(client_id=client_id))
token = session.fetch_token(token_url=token_url, username=user, password=password, auth=auth)
assert token["token_type"].lower() == "bearer", token

created = session.post(base + "/v1/customers", json={"name": "Interop", "email": "interop@example.com"})
assert created.status_code == 201, created.text
fetched = session.get(base + created.headers["Location"])
assert fetched.status_code == 200 and fetched.json()["name"] == "Interop", fetched.text

refreshed = session.refresh_token(token_url, auth=auth)
assert refreshed["access_token"] != token["access_token"], "refresh must issue a new token"
listed = session.get(base + "/v1/customers")
assert listed.status_code == 200, listed.text

backend = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
backend.fetch_token(token_url=token_url, auth=auth, scope=["customers:read"])
assert backend.get(base + "/v1/customers").status_code == 200
denied = backend.post(base + "/v1/customers", json={"name": "No", "email": "no@example.com"})
assert denied.status_code == 403, denied.text

print("requests-oauthlib: password grant, API calls, refresh, client_credentials: ok")

"""Tokens, error shapes, request ids and permissions over raw HTTP."""

import datetime

from conftest import ALICE


def test_client_credentials_token(fake):
    """Client credentials grant: token_type Bearer, expires_in, access_token
    (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow)."""
    body = fake.token_response(f"{fake.base}/.default").json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0 and body["access_token"]


def test_wrong_secret_is_invalid_client(fake):
    """A wrong secret is 401 invalid_client with an AADSTS description
    (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow, "Error response")."""
    reply = fake.token_response(f"{fake.base}/.default", secret="wrong")
    assert reply.status_code == 401
    assert reply.json()["error"] == "invalid_client"
    assert reply.json()["error_description"].startswith("AADSTS")


def test_scope_must_be_dot_default(fake):
    """Client credentials need a `{resource}/.default` scope
    (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow)."""
    assert fake.token_response(f"{fake.base}/User.Read.All").json()["error"] == "invalid_scope"


def test_missing_token_is_401(fake):
    """No bearer token: 401 InvalidAuthenticationToken (https://learn.microsoft.com/en-us/graph/errors)."""
    reply = fake.http.get(f"{fake.base}/v1.0/users")
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_exchange_token_is_refused_by_graph(fake):
    """A token's audience must be Graph (https://learn.microsoft.com/en-us/graph/auth/auth-concepts, "Access tokens")."""
    reply = fake.http.get(f"{fake.base}/v1.0/users", headers={"Authorization": f"Bearer {fake.token(fake.exchange)}"})
    assert reply.status_code == 401


def test_error_body_shape(fake):
    """{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}
    (https://learn.microsoft.com/en-us/graph/errors, "Error resource type")."""
    error = fake.get("/users/nobody@contoso.com").json()["error"]
    assert set(error) == {"code", "message", "innerError"}
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


def test_error_date_is_now(fake):
    """innerError.date is the time of the failure, UTC (https://learn.microsoft.com/en-us/graph/errors)."""
    date = fake.get("/users/nobody@contoso.com").json()["error"]["innerError"]["date"]
    when = datetime.datetime.strptime(date, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 120


def test_client_request_id_is_echoed(fake):
    """Graph echoes client-request-id in the response header and the error body
    (https://learn.microsoft.com/en-us/graph/best-practices-concept, "Reliability and support")."""
    mine = "2f2d0b5e-1111-4222-8333-444455556666"
    reply = fake.get("/users/nobody@contoso.com", headers={"client-request-id": mine})
    assert reply.headers["client-request-id"] == mine
    assert reply.json()["error"]["innerError"]["client-request-id"] == mine


def test_request_id_header_on_success(fake):
    """Every answer carries request-id (https://learn.microsoft.com/en-us/graph/best-practices-concept)."""
    reply = fake.get(f"/users/{ALICE}?$select=id")
    assert reply.headers["request-id"]
    assert reply.headers["client-request-id"]


def test_json_content_type(fake):
    """JSON answers are application/json with OData metadata parameters
    (https://learn.microsoft.com/en-us/graph/use-the-api, "Microsoft Graph API response")."""
    assert fake.get("/users?$top=1").headers["content-type"].startswith("application/json")


def test_license_details_is_not_for_application_permissions(fake):
    """List licenseDetails: "Application: Not supported." — an app-only token is refused
    (https://learn.microsoft.com/en-us/graph/api/user-list-licensedetails?view=graph-rest-1.0, "Permissions")."""
    reply = fake.get(f"/users/{ALICE}/licenseDetails")
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "Authorization_RequestDenied"


def test_unknown_segment_is_400(fake):
    """An unknown segment: 400 BadRequest "Resource not found for the segment ..."
    (https://learn.microsoft.com/en-us/graph/errors)."""
    reply = fake.get("/userz")
    assert reply.status_code == 400
    assert "Resource not found for the segment" in reply.json()["error"]["message"]

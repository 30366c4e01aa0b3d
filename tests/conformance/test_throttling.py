"""Microsoft's throttling model over raw HTTP: resource units, Retry-After from the window,
throttling headers. Source: https://learn.microsoft.com/en-us/graph/throttling-limits
("Identity and access service limits") and https://learn.microsoft.com/en-us/graph/throttling."""

import time


def spend_until_429(fake, path):
    for n in range(1, 50):
        reply = fake.get(path)
        if reply.status_code == 429:
            return n, reply
    raise AssertionError("never throttled")


def test_429_shape_and_headers(throttled):
    """A throttled request: 429, Retry-After, TooManyRequests, x-ms-throttle-scope and
    x-ms-throttle-information (https://learn.microsoft.com/en-us/graph/throttling-limits)."""
    _, reply = spend_until_429(throttled, "/users")
    assert int(reply.headers["Retry-After"]) >= 1
    assert reply.json()["error"]["code"] == "TooManyRequests"
    assert reply.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert reply.headers["x-ms-throttle-scope"].startswith("Tenant_Application/")


def test_select_halves_the_cost_of_a_users_read(throttled):
    """GET users costs 2 RU, 1 with $select (https://learn.microsoft.com/en-us/graph/throttling-limits,
    "Identity and access service limits": base costs and modifiers)."""
    plain, _ = spend_until_429(throttled, "/users")
    time.sleep(11)  # the 10 s bucket refills
    selected, _ = spend_until_429(throttled, "/users?$select=id")
    assert selected - 1 >= 2 * (plain - 1) - 1


def test_retry_after_is_honoured_by_the_service(throttled):
    """After waiting Retry-After, the request succeeds (https://learn.microsoft.com/en-us/graph/throttling,
    "Best practices to handle throttling")."""
    _, reply = spend_until_429(throttled, "/users")
    time.sleep(int(reply.headers["Retry-After"]))
    assert throttled.get("/users").status_code == 200


def test_writes_have_their_own_quota(throttled):
    """Writes count against a write quota (3,000 per 150 s, here scaled to 6) besides resource
    units (https://learn.microsoft.com/en-us/graph/throttling-limits)."""
    users = throttled.get("/users?$select=id&$top=20").json()["value"]
    refused = None
    for user in users:
        reply = throttled.request("PATCH", f"/users/{user['id']}", json={"usageLocation": "GB"})
        if reply.status_code == 429:
            refused = reply
            break
        time.sleep(0.6)  # keep under the resource-unit refill, so the write quota refuses
    assert refused is not None
    assert refused.headers["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert int(refused.headers["Retry-After"]) >= 10, "computed from the 150 s window"


def test_resource_unit_header_names_the_cost(fake):
    """x-ms-resource-unit carries the request's cost: GET users 2, 1 with $select,
    GET subscribedSkus 3 (https://learn.microsoft.com/en-us/graph/throttling-limits,
    "Identity and access service limits", headers and base costs)."""
    assert fake.get("/users").headers["x-ms-resource-unit"] == "2"
    assert fake.get("/users?$select=id").headers["x-ms-resource-unit"] == "1"
    assert fake.get("/subscribedSkus").headers["x-ms-resource-unit"] == "3"
    assert fake.request("PATCH", "/users/henry@contoso.com", json={"usageLocation": "ZZ"}).headers["x-ms-resource-unit"] == "1"


def test_limit_percentage_header_above_80_percent(throttled):
    """x-ms-throttle-limit-percentage appears only when more than 80 % of the limit is used
    (https://learn.microsoft.com/en-us/graph/throttling-limits)."""
    first = throttled.get("/users?$select=id")
    assert "x-ms-throttle-limit-percentage" not in first.headers
    seen = False
    for _ in range(10):
        reply = throttled.get("/users?$select=id")
        if reply.status_code == 429:
            break
        seen = seen or "x-ms-throttle-limit-percentage" in reply.headers
    assert seen

"""JSON batching over raw HTTP: limits, ids, headers, dependsOn and 424, per-item 429.
Source for every case: https://learn.microsoft.com/en-us/graph/json-batching (and the
throttling page for per-item 429s)."""

from urllib.parse import quote

from conftest import ALICE, E3


def batch(fake, requests, headers=None):
    return fake.request("POST", "/$batch", json={"requests": requests}, headers=headers)


def by_id(reply):
    return {r["id"]: r for r in reply.json()["responses"]}


def test_batch_answers_each_item_with_its_own_status(fake):
    """Each item has its own status; a 200 envelope does not mean every item succeeded
    (https://learn.microsoft.com/en-us/graph/json-batching, "Response format")."""
    reply = batch(fake, [
        {"id": "1", "method": "GET", "url": f"/users/{ALICE}?$select=id"},
        {"id": "2", "method": "GET", "url": "/users/00000000-0000-0000-0000-00000000dead"},
    ])
    assert reply.status_code == 200
    items = by_id(reply)
    assert items["1"]["status"] == 200 and items["1"]["body"]["id"] == ALICE
    assert items["2"]["status"] == 404
    assert items["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"


def test_batch_item_answers_carry_content_type(fake):
    """An item answer with a body names its Content-Type in its headers
    (https://learn.microsoft.com/en-us/graph/json-batching, response example)."""
    items = by_id(batch(fake, [{"id": "1", "method": "GET", "url": f"/users/{ALICE}"}]))
    assert items["1"]["headers"]["Content-Type"].startswith("application/json")


def test_batch_item_errors_carry_ids_and_date(fake):
    """An item's error body has innerError with request-id, client-request-id and date
    (https://learn.microsoft.com/en-us/graph/errors, "JSON representation")."""
    items = by_id(batch(fake, [{"id": "1", "method": "GET", "url": "/users/nobody@contoso.com"}],
                        headers={"client-request-id": "7b1d2c3e-0000-4000-8000-00000000abcd"}))
    inner = items["1"]["body"]["error"]["innerError"]
    assert inner["request-id"] and inner["date"].startswith("20")
    assert inner["client-request-id"] == "7b1d2c3e-0000-4000-8000-00000000abcd"
    assert items["1"]["headers"]["client-request-id"] == "7b1d2c3e-0000-4000-8000-00000000abcd"


def test_batch_accepts_twenty_items(fake):
    """A batch holds up to 20 requests (https://learn.microsoft.com/en-us/graph/json-batching, "Batch size limitations")."""
    requests = [{"id": str(i), "method": "GET", "url": f"/users/{ALICE}?$select=id"} for i in range(20)]
    items = by_id(batch(fake, requests))
    assert len(items) == 20 and all(i["status"] == 200 for i in items.values())


def test_batch_refuses_twenty_one_items(fake):
    """More than 20 requests is 400 for the whole batch (https://learn.microsoft.com/en-us/graph/json-batching)."""
    requests = [{"id": str(i), "method": "GET", "url": "/users?$top=1"} for i in range(21)]
    assert batch(fake, requests).status_code == 400


def test_batch_refuses_duplicate_ids(fake):
    """Ids must be unique within a batch (https://learn.microsoft.com/en-us/graph/json-batching, "Request format")."""
    requests = [{"id": "1", "method": "GET", "url": "/users?$top=1"}] * 2
    assert batch(fake, requests).status_code == 400


def test_batch_item_with_a_body_needs_content_type(fake):
    """"headers ... required when body is specified" with Content-Type
    (https://learn.microsoft.com/en-us/graph/json-batching, "Request format")."""
    requests = [{"id": "1", "method": "PATCH", "url": f"/users/{ALICE}", "body": {"usageLocation": "GB"}}]
    reply = batch(fake, requests)
    assert reply.status_code == 400
    assert "Content-Type" in reply.json()["error"]["message"]


def test_batch_depends_on_orders_and_fails_with_424(fresh):
    """A request whose dependency failed fails with 424 Failed Dependency
    (https://learn.microsoft.com/en-us/graph/json-batching, "Sequencing requests with the dependsOn property")."""
    json_headers = {"Content-Type": "application/json"}
    reply = batch(fresh, [
        {"id": "1", "method": "PATCH", "url": "/users/00000000-0000-0000-0000-00000000dead",
         "headers": json_headers, "body": {"usageLocation": "GB"}},
        {"id": "2", "method": "POST", "url": f"/users/{ALICE}/assignLicense", "dependsOn": ["1"],
         "headers": json_headers, "body": {"addLicenses": [], "removeLicenses": [E3]}},
    ])
    items = by_id(reply)
    assert items["1"]["status"] == 404
    assert items["2"]["status"] == 424
    held = fresh.get(f"/users/{ALICE}?$select=assignedLicenses").json()["assignedLicenses"]
    assert [l["skuId"] for l in held] == [E3], "the dependent write did not run"


def test_batch_depends_on_success_runs_in_order(fresh):
    """With dependsOn, the second runs after the first succeeded
    (https://learn.microsoft.com/en-us/graph/json-batching)."""
    henry = "00000008-7e57-4c1d-9a2b-000000008888"
    json_headers = {"Content-Type": "application/json"}
    items = by_id(batch(fresh, [
        {"id": "loc", "method": "PATCH", "url": f"/users/{henry}", "headers": json_headers,
         "body": {"usageLocation": "GB"}},
        {"id": "lic", "method": "POST", "url": f"/users/{henry}/assignLicense", "dependsOn": ["loc"],
         "headers": json_headers, "body": {"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}},
    ]))
    assert items["loc"]["status"] == 204
    assert items["lic"]["status"] == 200
    assert items["lic"]["body"]["id"] == henry


def test_batch_items_are_throttled_individually(throttled):
    """"Requests in a batch are evaluated individually against the applicable throttling
    limits"; a throttled item is a 429 with its own Retry-After inside a 200 envelope
    (https://learn.microsoft.com/en-us/graph/json-batching, "Throttling and batching")."""
    requests = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(10)]
    reply = batch(throttled, requests)
    assert reply.status_code == 200
    statuses = [r["status"] for r in reply.json()["responses"]]
    assert 200 in statuses and 429 in statuses
    for item in reply.json()["responses"]:
        if item["status"] == 429:
            assert int(item["headers"]["Retry-After"]) >= 1
            assert item["body"]["error"]["code"] == "TooManyRequests"


def test_batch_counts_carry_their_own_consistency_level(big):
    """Headers go with each request of a batch, so a count inside $batch needs its own
    ConsistencyLevel: eventual (https://learn.microsoft.com/en-us/graph/json-batching, "headers"
    of an individual request; https://learn.microsoft.com/en-us/graph/aad-advanced-queries:
    $count as a URL segment is an advanced query)."""
    url = "/users/$count?$filter=" + quote("startswith(userPrincipalName,'a')")
    listed = big.get("/users", params={"$filter": "startswith(userPrincipalName,'a')", "$select": "id", "$top": "999"})
    expected = len(listed.json()["value"])
    reply = batch(big, [
        {"id": "1", "method": "GET", "url": url, "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "2", "method": "GET", "url": url},
    ])
    items = by_id(reply)
    assert items["1"]["status"] == 200 and int(items["1"]["body"]) == expected
    assert items["2"]["status"] == 400
    assert items["2"]["body"]["error"]["code"] == "Request_BadRequest"

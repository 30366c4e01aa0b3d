"""Users: default properties, `$select`, `/users/{id | userPrincipalName}`, query options,
`$count`, paging — over raw HTTP."""

from urllib.parse import quote

import pytest

from conftest import ALICE, E3

EVENTUAL = {"ConsistencyLevel": "eventual"}

DEFAULT_USER_PROPERTIES = {
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
}


def test_default_properties_of_a_user_list(fake):
    """Without $select, List users returns the default property set only
    (https://learn.microsoft.com/en-us/graph/api/resources/user?view=graph-rest-1.0,
    "Properties": licences and usageLocation are "Returned only on $select")."""
    users = fake.get("/users").json()["value"]
    assert users
    for user in users:
        assert set(user) == DEFAULT_USER_PROPERTIES
        assert "assignedLicenses" not in user and "usageLocation" not in user


def test_select_returns_exactly_the_named_properties(fake):
    """$select returns the named properties (https://learn.microsoft.com/en-us/graph/query-parameters#select)."""
    users = fake.get("/users?$select=id,assignedLicenses,usageLocation").json()["value"]
    for user in users:
        assert set(user) == {"id", "assignedLicenses", "usageLocation"}
    alice = next(u for u in users if u["id"] == ALICE)
    assert alice["assignedLicenses"][0]["skuId"] == E3
    assert alice["usageLocation"] == "GB"


def test_select_is_case_insensitive(fake):
    """OData property names in $select are matched case-insensitively by Graph
    (https://learn.microsoft.com/en-us/graph/query-parameters, "case-insensitive")."""
    users = fake.get("/users?$select=ID,UsageLocation").json()["value"]
    assert set(users[0]) == {"id", "usageLocation"}


def test_select_of_an_unknown_property_is_400(fake):
    """An unknown property is Request_BadRequest "Could not find a property named ..."
    (https://learn.microsoft.com/en-us/graph/errors; user resource property list)."""
    reply = fake.get("/users?$select=id,shoeSize")
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert error["message"] == "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'."


def test_select_of_a_single_user_only_property_on_the_collection_is_501(fake):
    """Properties such as aboutMe are only returned for a single user; selecting them on
    /users fails (user-list, "Optional query parameters", note on single-user properties:
    https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0)."""
    assert fake.get("/users?$select=aboutMe").status_code == 501
    assert fake.get(f"/users/{ALICE}?$select=aboutMe").status_code == 200


def test_selected_but_unset_properties_are_null_or_empty(fake):
    """Unset properties come back as null, unset collections as [] (user resource JSON
    representation, https://learn.microsoft.com/en-us/graph/api/resources/user?view=graph-rest-1.0)."""
    user = fake.get(f"/users/{ALICE}?$select=city,otherMails,proxyAddresses").json()
    assert user["city"] is None
    assert user["otherMails"] == []


def test_get_user_by_id(fake):
    """GET /users/{id} (https://learn.microsoft.com/en-us/graph/api/user-get?view=graph-rest-1.0)."""
    user = fake.get(f"/users/{ALICE}").json()
    assert user["id"] == ALICE
    assert user["userPrincipalName"] == "alice@contoso.com"
    assert set(user) - {"@odata.context"} == DEFAULT_USER_PROPERTIES


def test_get_user_by_user_principal_name(fake):
    """GET /users/{userPrincipalName} (https://learn.microsoft.com/en-us/graph/api/user-get?view=graph-rest-1.0, HTTP request: {id | userPrincipalName})."""
    user = fake.get("/users/alice@contoso.com?$select=id").json()
    assert user["id"] == ALICE


def test_get_user_by_percent_encoded_user_principal_name(fake):
    """Path segments are percent-decoded (RFC 3986; user-get accepts a UPN, which clients
    encode: https://learn.microsoft.com/en-us/graph/api/user-get?view=graph-rest-1.0)."""
    user = fake.get(f"/users/{quote('alice@contoso.com', safe='')}?$select=id").json()
    assert user["id"] == ALICE


def test_get_user_by_user_principal_name_ignores_case(fake):
    """UPN lookups are case-insensitive in Entra ID (https://learn.microsoft.com/en-us/graph/api/user-get?view=graph-rest-1.0)."""
    assert fake.get("/users/ALICE@Contoso.com?$select=id").json()["id"] == ALICE


def test_unknown_user_is_404_request_resource_not_found(fake):
    """An unknown id is 404 Request_ResourceNotFound (https://learn.microsoft.com/en-us/graph/errors)."""
    reply = fake.get("/users/00000000-0000-0000-0000-00000000dead")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "Request_ResourceNotFound"


def test_single_user_context(fake):
    """A single entity carries @odata.context `$metadata#users/$entity`
    (OData JSON format 4.01 §10 context URL; user-get response example: https://learn.microsoft.com/en-us/graph/api/user-get?view=graph-rest-1.0)."""
    assert fake.get(f"/users/{ALICE}").json()["@odata.context"].endswith("$metadata#users/$entity")
    assert fake.get(f"/users/{ALICE}?$select=id").json()["@odata.context"].endswith("$metadata#users(id)/$entity")


def test_collection_context(fake):
    """A collection carries @odata.context `$metadata#users` (user-list response example, https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0)."""
    assert fake.get("/users").json()["@odata.context"].endswith("$metadata#users")


def test_filter_by_user_principal_name(fake):
    """$filter=userPrincipalName eq '…' (user-list, example "Get a user account using a
    sign-in name": https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0)."""
    users = fake.get("/users", params={"$filter": "userPrincipalName eq 'bob@contoso.com'"}).json()["value"]
    assert [u["userPrincipalName"] for u in users] == ["bob@contoso.com"]


def test_filter_startswith(fake):
    """startswith on displayName is supported without advanced query
    (https://learn.microsoft.com/en-us/graph/filter-query-parameter)."""
    users = fake.get("/users", params={"$filter": "startswith(displayName,'Gr')", "$select": "displayName"}).json()["value"]
    assert users and all(u["displayName"].startswith("Gr") for u in users)


def test_filter_by_assigned_sku(fake):
    """assignedLicenses/any(x:x/skuId eq …) (user-list, "Get users including their last
    sign-in time" / filter on assignedLicenses: https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0)."""
    users = fake.get("/users", params={"$filter": f"assignedLicenses/any(x:x/skuId eq {E3})", "$select": "id,assignedLicenses"}).json()["value"]
    assert users
    assert all(any(l["skuId"] == E3 for l in u["assignedLicenses"]) for u in users)


def test_filter_on_an_unsupported_property_is_refused_not_ignored(fake):
    """A filter Graph does not support is 400 Request_UnsupportedQuery, never ignored
    (https://learn.microsoft.com/en-us/graph/filter-query-parameter; https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    reply = fake.get("/users", params={"$filter": "city eq 'London'"})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_filter_ne_needs_advanced_query(fake):
    """`ne` on directory objects is an advanced query: ConsistencyLevel: eventual and
    $count=true are required (https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    params = {"$filter": "usageLocation ne 'GB'", "$select": "usageLocation"}
    assert fake.get("/users", params=params).status_code == 400
    reply = fake.get("/users", params={**params, "$count": "true"}, headers=EVENTUAL)
    assert reply.status_code == 200
    body = reply.json()
    assert all(u["usageLocation"] != "GB" for u in body["value"])
    assert body["@odata.count"] == len(body["value"])


def test_orderby_display_name(fake):
    """$orderby=displayName is supported on users (https://learn.microsoft.com/en-us/graph/query-parameters#orderby)."""
    names = [u["displayName"] for u in fake.get("/users?$orderby=displayName desc&$select=displayName").json()["value"]]
    assert names == sorted(names, key=str.lower, reverse=True)


def test_search_requires_eventual_consistency(fake):
    """$search on directory objects needs ConsistencyLevel: eventual (https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    params = {"$search": '"displayName:ali"'}
    assert fake.get("/users", params=params).status_code == 400
    users = fake.get("/users", params=params, headers=EVENTUAL).json()["value"]
    assert [u["displayName"] for u in users] == ["Alice"]


def test_unrecognised_query_argument_is_400(fake):
    """Query options need the $ prefix on /users; `select` alone is "Unrecognized query
    argument specified" (https://learn.microsoft.com/en-us/graph/query-parameters)."""
    reply = fake.get("/users?select=id")
    assert reply.status_code == 400
    assert "Unrecognized query argument" in reply.json()["error"]["message"]


@pytest.mark.parametrize("top", ["0", "1000", "abc"])
def test_top_out_of_range_is_400(fake, top):
    """$top on users is 1..999 (https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0; https://learn.microsoft.com/en-us/graph/paging)."""
    reply = fake.get(f"/users?$top={top}")
    assert reply.status_code == 400
    assert "Must be between 1 and 999" in reply.json()["error"]["message"]


def test_count_is_the_collection_total_with_eventual(big):
    """@odata.count is the total of the collection, not of the page (https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    body = big.get("/users?$count=true&$top=10&$select=id", headers=EVENTUAL).json()
    assert len(body["value"]) == 10
    assert body["@odata.count"] == 250


def test_count_is_not_sent_without_eventual(big):
    """Without ConsistencyLevel: eventual, $count=true yields no @odata.count on directory
    objects (https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    assert "@odata.count" not in big.get("/users?$count=true&$top=10").json()


def test_raw_count_with_eventual(big):
    """GET /users/$count with ConsistencyLevel: eventual is text/plain (user-list, example
    "Get only a count of users": https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0)."""
    reply = big.get("/users/$count", headers=EVENTUAL)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.text == "250"


def test_raw_count_without_eventual_is_400(big):
    """/$count without the header is 400 Request_BadRequest "$count is not currently supported."
    (aad-advanced-queries, "Error handling for advanced queries on directory objects":
    https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    reply = big.get("/users/$count")
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert error["message"] == "$count is not currently supported."


def test_raw_count_honours_a_startswith_filter(fake):
    """/users/$count with ConsistencyLevel: eventual counts the filtered collection
    (https://learn.microsoft.com/en-us/graph/aad-advanced-queries, "Use of $count as a URL segment")."""
    every = fake.get("/users", params={"$select": "userPrincipalName", "$top": "999"}).json()["value"]
    expected = sum(1 for u in every if u["userPrincipalName"].lower().startswith("a"))
    reply = fake.get("/users/$count", params={"$filter": "startswith(userPrincipalName,'a')"}, headers=EVENTUAL)
    assert reply.status_code == 200
    assert int(reply.text) == expected > 0


@pytest.mark.parametrize("prefix", ["a", "A", "b", "Bo", "z", "'"])
def test_startswith_on_user_principal_name_ignores_case_without_advanced_query(fake, prefix):
    """startsWith on userPrincipalName works by default, without ConsistencyLevel
    (aad-advanced-queries, "Support for filter by properties of Microsoft Entra ID (directory)
    objects": userPrincipalName | startsWith | Default), and ignores case
    (filter-query-parameter: startswith(displayName,'mary') finds "Mary":
    https://learn.microsoft.com/en-us/graph/filter-query-parameter)."""
    every = fake.get("/users", params={"$select": "id,userPrincipalName", "$top": "999"}).json()["value"]
    quoted = prefix.replace("'", "''")
    reply = fake.get("/users", params={"$filter": f"startswith(userPrincipalName,'{quoted}')", "$select": "id,userPrincipalName", "$top": "999"})
    assert reply.status_code == 200
    got = sorted(u["id"] for u in reply.json()["value"])
    assert got == sorted(u["id"] for u in every if u["userPrincipalName"].lower().startswith(prefix.lower()))


def test_startswith_alternatives_joined_by_or(fake):
    """`or` joins filter expressions without advanced query (filter-query-parameter, "Get all
    users with the name Mary across multiple properties":
    https://learn.microsoft.com/en-us/graph/filter-query-parameter)."""
    every = fake.get("/users", params={"$select": "id,userPrincipalName", "$top": "999"}).json()["value"]
    flt = "startswith(userPrincipalName,'a') or startswith(userPrincipalName,'B') or startswith(userPrincipalName,'c')"
    reply = fake.get("/users", params={"$filter": flt, "$select": "id,userPrincipalName"})
    assert reply.status_code == 200
    got = sorted(u["id"] for u in reply.json()["value"])
    assert got and got == sorted(u["id"] for u in every if u["userPrincipalName"][0].lower() in "abc")


def test_a_filtered_collection_pages_with_select_and_top(big):
    """$filter with $select and $top: each page at most $top objects with exactly the selected
    properties, the next link keeps the filter, and the pages together are the filtered
    collection (https://learn.microsoft.com/en-us/graph/paging;
    https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0)."""
    every = big.get("/users", params={"$select": "id,userPrincipalName", "$top": "999"}).json()["value"]
    prefix = "USER0001"
    expected = sorted(u["id"] for u in every if u["userPrincipalName"].upper().startswith(prefix))
    assert 7 < len(expected) < len(every)
    url = f"{big.base}/v1.0/users?$filter=startswith(userPrincipalName,'{prefix}')&$select=id,userPrincipalName&$top=7"
    seen = []
    while url:
        body = big.http.get(url, headers={"Authorization": f"Bearer {big.token(big.base)}"}).json()
        assert len(body["value"]) <= 7
        assert all(set(u) == {"id", "userPrincipalName"} for u in body["value"])
        seen += [u["id"] for u in body["value"]]
        url = body.get("@odata.nextLink")
    assert sorted(seen) == expected


@pytest.mark.parametrize("flt", ["endswith(userPrincipalName,'e@contoso.com')", "NOT startswith(userPrincipalName,'a')"])
def test_endswith_and_not_need_advanced_query(fake, flt):
    """endsWith on userPrincipalName and `not` work only as advanced queries
    (https://learn.microsoft.com/en-us/graph/aad-advanced-queries, "Query scenarios that require
    advanced query capabilities"): refused without them, honoured with them."""
    reply = fake.get("/users", params={"$filter": flt})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "Request_UnsupportedQuery"
    every = fake.get("/users", params={"$select": "id", "$top": "999"}).json()["value"]
    advanced = fake.get("/users", params={"$filter": flt, "$count": "true", "$select": "id"}, headers=EVENTUAL)
    assert advanced.status_code == 200
    assert 0 < advanced.json()["@odata.count"] < len(every)


def test_default_page_size_is_100(big):
    """/users pages 100 by default (https://learn.microsoft.com/en-us/graph/paging)."""
    body = big.get("/users").json()
    assert len(body["value"]) == 100
    assert "@odata.nextLink" in body


def test_next_links_reach_every_user_exactly_once(big):
    """Follow @odata.nextLink until it is absent; each object once
    (https://learn.microsoft.com/en-us/graph/paging)."""
    url = f"{big.base}/v1.0/users?$select=id&$top=37"
    seen = []
    while url:
        body = big.http.get(url, headers={"Authorization": f"Bearer {big.token(big.base)}"}).json()
        seen += [u["id"] for u in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(seen) == 250 and len(set(seen)) == 250


def test_next_link_keeps_the_query(big):
    """The next link carries the original $select and $filter (https://learn.microsoft.com/en-us/graph/paging)."""
    body = big.get("/users", params={"$select": "id,displayName", "$top": "5"}).json()
    nxt = big.http.get(body["@odata.nextLink"], headers={"Authorization": f"Bearer {big.token(big.base)}"}).json()
    assert all(set(u) == {"id", "displayName"} for u in nxt["value"])


def test_count_on_filtered_collection(big):
    """@odata.count counts the filtered collection (https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    body = big.get("/users", params={"$filter": "accountEnabled eq true", "$count": "true", "$select": "accountEnabled", "$top": "999"}, headers=EVENTUAL).json()
    assert body["@odata.count"] == len(body["value"])
    assert all(u["accountEnabled"] for u in body["value"])


@pytest.mark.parametrize("name", ["shoeSize", "displayName"])
def test_expand_of_a_non_navigation_property_is_400(fake, name):
    """$expand names a navigation property; an unknown name or a structural property is 400
    Request_BadRequest, never silently ignored (https://learn.microsoft.com/en-us/graph/query-parameters#expand)."""
    reply = fake.get(f"/users?$expand={name}")
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "Request_BadRequest"


def test_raw_count_honours_filter(big):
    """/users/$count with $filter counts the matching users (user-list, "Get only a count of
    users" with $filter, https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0)."""
    in_gb = big.get("/users", params={"$filter": "usageLocation eq 'GB'", "$select": "id", "$top": "999"}).json()["value"]
    reply = big.get("/users/$count", params={"$filter": "usageLocation eq 'GB'"}, headers=EVENTUAL)
    assert reply.status_code == 200
    assert 0 < int(reply.text) == len(in_gb) < 250


def test_count_of_users_under_a_prefix_needs_eventual_consistency(big):
    """GET /users/$count with $filter=startswith(userPrincipalName,'…') counts the users the
    same filter lists; a raw count is an advanced query, so without ConsistencyLevel: eventual
    it is 400 Request_BadRequest (https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0,
    "Get only a count of users" and "Use $filter and $top to get one user with a display name
    that starts with 'a'"; https://learn.microsoft.com/en-us/graph/aad-advanced-queries,
    "Error handling for advanced queries on directory objects")."""
    listed = big.get("/users", params={"$select": "userPrincipalName", "$top": "999"}).json()["value"]
    for prefix in ["a", "s", "zz", "'"]:
        params = {"$filter": f"startswith(userPrincipalName,'{prefix.replace(chr(39), chr(39) * 2)}')"}
        refused = big.get("/users/$count", params=params)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "Request_BadRequest"
        reply = big.get("/users/$count", params=params, headers=EVENTUAL)
        assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/plain")
        expected = sum(1 for u in listed if u["userPrincipalName"].lower().startswith(prefix))
        assert int(reply.text) == expected
        assert len(big.get("/users", params={**params, "$select": "id", "$top": "999"}).json()["value"]) == expected

"""subscribedSkus, groups, members, licence writes and usageLocation over raw HTTP."""

import pytest

from conftest import ALICE, E3, E5, LIC_E5

EVENTUAL = {"ConsistencyLevel": "eventual"}
HENRY = "00000008-7e57-4c1d-9a2b-000000008888"
EVE = "00000005-7e57-4c1d-9a2b-000000005555"


def test_subscribed_sku_shape(fake):
    """subscribedSku: id {tenantId}_{skuId}, accountId, accountName, subscriptionIds,
    prepaidUnits, servicePlans (https://learn.microsoft.com/en-us/graph/api/resources/subscribedsku?view=graph-rest-1.0)."""
    body = fake.get("/subscribedSkus").json()
    assert body["@odata.context"].endswith("$metadata#subscribedSkus")
    for sku in body["value"]:
        assert sku["id"] == f"{fake.tenant_id}_{sku['skuId']}"
        assert sku["accountId"] == fake.tenant_id
        assert sku["accountName"] == "contoso"
        assert isinstance(sku["subscriptionIds"], list) and sku["subscriptionIds"]
        assert set(sku["prepaidUnits"]) == {"enabled", "warning", "suspended", "lockedOut"}
        for plan in sku["servicePlans"]:
            assert set(plan) == {"servicePlanId", "servicePlanName", "provisioningStatus", "appliesTo"}


def test_subscribed_sku_consumed_units_count_holders(fake):
    """consumedUnits is the number of assigned licences
    (https://learn.microsoft.com/en-us/graph/api/resources/subscribedsku?view=graph-rest-1.0)."""
    skus = {s["skuId"]: s for s in fake.get("/subscribedSkus").json()["value"]}
    users = fake.get("/users?$select=assignedLicenses&$top=999").json()["value"]
    holders = sum(any(l["skuId"] == E3 for l in u["assignedLicenses"]) for u in users)
    assert skus[E3]["consumedUnits"] == holders


def test_group_default_properties_leave_out_licences(fake):
    """Group defaults do not include assignedLicenses ("Returned only on $select")
    (https://learn.microsoft.com/en-us/graph/api/resources/group?view=graph-rest-1.0)."""
    group = fake.get(f"/groups/{LIC_E5}").json()
    assert "assignedLicenses" not in group
    assert group["displayName"] == "LIC-E5" and group["securityEnabled"] is True
    assert group["groupTypes"] == []


def test_group_assigned_licenses_on_select(fake):
    """assignedLicenses of a group with $select (https://learn.microsoft.com/en-us/graph/api/resources/group?view=graph-rest-1.0)."""
    group = fake.get(f"/groups/{LIC_E5}?$select=id,assignedLicenses").json()
    assert [l["skuId"] for l in group["assignedLicenses"]] == [E5]


def test_licensed_groups_filter_is_an_advanced_query(fake):
    """assignedLicenses/$count ne 0 needs ConsistencyLevel: eventual and $count=true
    (https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    params = {"$filter": "assignedLicenses/$count ne 0", "$select": "id"}
    assert fake.get("/groups", params=params).status_code == 400
    body = fake.get("/groups", params={**params, "$count": "true"}, headers=EVENTUAL).json()
    assert [g["id"] for g in body["value"]] == [LIC_E5]
    assert body["@odata.count"] == 1


def test_duplicate_group_display_names_are_possible(fake):
    """Group display names need not be unique ("displayName ... Required", no uniqueness:
    https://learn.microsoft.com/en-us/graph/api/resources/group?view=graph-rest-1.0); a
    filter on the name returns every group that has it."""
    groups = fake.get("/groups", params={"$filter": "displayName eq 'Project Falcon'", "$select": "id,displayName"}).json()["value"]
    assert len(groups) == 2
    assert len({g["id"] for g in groups}) == 2


def test_group_filter_on_unsupported_property_is_400(fake):
    """Filters Graph does not support are refused (https://learn.microsoft.com/en-us/graph/filter-query-parameter)."""
    assert fake.get("/groups", params={"$filter": "theme eq 'Red'"}).status_code == 400


def test_group_members_are_directory_objects_with_type(fake):
    """/members lists directoryObjects, each with @odata.type
    (https://learn.microsoft.com/en-us/graph/api/group-list-members?view=graph-rest-1.0)."""
    body = fake.get(f"/groups/{LIC_E5}/members").json()
    assert body["@odata.context"].endswith("$metadata#directoryObjects")
    assert {m["@odata.type"] for m in body["value"]} == {"#microsoft.graph.user"}
    assert all("displayName" in m for m in body["value"])


def test_group_members_honour_select(fake):
    """$select applies to members (https://learn.microsoft.com/en-us/graph/api/group-list-members?view=graph-rest-1.0)."""
    members = fake.get(f"/groups/{LIC_E5}/members?$select=id,userPrincipalName").json()["value"]
    assert all(set(m) == {"@odata.type", "id", "userPrincipalName"} for m in members)


def test_group_members_user_cast(fake):
    """/members/microsoft.graph.user returns the user members
    (https://learn.microsoft.com/en-us/graph/api/group-list-members?view=graph-rest-1.0, example "Use OData cast")."""
    body = fake.get(f"/groups/{LIC_E5}/members/microsoft.graph.user?$select=id").json()
    assert body["@odata.context"].endswith("$metadata#users(id)")
    assert sorted(m["id"] for m in body["value"]) == ["00000003-7e57-4c1d-9a2b-000000003333", "00000006-7e57-4c1d-9a2b-000000006666"]


def test_group_members_page(big):
    """Members page with $top and @odata.nextLink (https://learn.microsoft.com/en-us/graph/paging)."""
    group = big.get("/groups", params={"$filter": "assignedLicenses/$count ne 0", "$count": "true", "$select": "id", "$top": "1"}, headers=EVENTUAL).json()["value"][0]
    body = big.get(f"/groups/{group['id']}/members?$select=id&$top=1").json()
    assert len(body["value"]) == 1


def test_assign_license_requires_usage_location(fresh):
    """Direct assignment to a user without usageLocation fails: "License assignment cannot be
    done for user with invalid usage location."
    (https://learn.microsoft.com/en-us/graph/api/user-assignlicense?view=graph-rest-1.0)."""
    reply = fresh.request("POST", f"/users/{HENRY}/assignLicense", json={"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []})
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == "License assignment cannot be done for user with invalid usage location."


def test_assign_license_returns_the_user(fresh):
    """assignLicense answers 200 with the user object
    (https://learn.microsoft.com/en-us/graph/api/user-assignlicense?view=graph-rest-1.0)."""
    reply = fresh.request("POST", f"/users/{ALICE}/assignLicense", json={"addLicenses": [], "removeLicenses": [E3]})
    assert reply.status_code == 200
    assert reply.json()["id"] == ALICE


def test_assign_license_by_user_principal_name(fresh):
    """/users/{userPrincipalName}/assignLicense (https://learn.microsoft.com/en-us/graph/api/user-assignlicense?view=graph-rest-1.0)."""
    reply = fresh.request("POST", "/users/alice@contoso.com/assignLicense", json={"addLicenses": [], "removeLicenses": [E3]})
    assert reply.status_code == 200
    assert fresh.get(f"/users/{ALICE}?$select=assignedLicenses").json()["assignedLicenses"] == []


def test_assign_license_item_without_disabled_plans(fresh):
    """An addLicenses item may leave disabledPlans out
    (assignedLicense: https://learn.microsoft.com/en-us/graph/api/resources/assignedlicense?view=graph-rest-1.0)."""
    reply = fresh.request("POST", f"/users/{EVE}/assignLicense", json={"addLicenses": [{"skuId": E3}], "removeLicenses": []})
    assert reply.status_code == 200


def test_assign_license_without_remove_licenses_is_refused(fresh):
    """removeLicenses is required (may be empty)
    (https://learn.microsoft.com/en-us/graph/api/user-assignlicense?view=graph-rest-1.0, "Request body")."""
    reply = fresh.request("POST", f"/users/{EVE}/assignLicense", json={"addLicenses": [{"skuId": E3, "disabledPlans": []}]})
    assert reply.status_code == 400


def test_inherited_licence_cannot_be_removed_directly(fresh):
    """"User license is inherited from a group membership and it cannot be removed directly
    from the user." (https://learn.microsoft.com/en-us/entra/identity/users/licensing-group-advanced)."""
    carol = "00000003-7e57-4c1d-9a2b-000000003333"
    reply = fresh.request("POST", f"/users/{carol}/assignLicense", json={"addLicenses": [], "removeLicenses": [E5]})
    assert reply.status_code == 400
    assert "inherited from a group membership" in reply.json()["error"]["message"]


@pytest.mark.parametrize("code", ["GB", "US", "DE", "JP"])
def test_patch_usage_location_accepts_iso_codes(fresh, code):
    """usageLocation is an ISO 3166-1 alpha-2 code
    (https://learn.microsoft.com/en-us/graph/api/resources/user?view=graph-rest-1.0; update:
    https://learn.microsoft.com/en-us/graph/api/user-update?view=graph-rest-1.0)."""
    assert fresh.request("PATCH", f"/users/{HENRY}", json={"usageLocation": code}).status_code == 204
    assert fresh.get(f"/users/{HENRY}?$select=usageLocation").json()["usageLocation"] == code


@pytest.mark.parametrize("code", ["XX", "UK", "gbr", "ZZ"])
def test_patch_usage_location_refuses_non_iso_codes(fresh, code):
    """Two letters are not enough: the code must exist in ISO 3166-1 (UK is not one; GB is)
    (https://learn.microsoft.com/en-us/graph/api/resources/user?view=graph-rest-1.0)."""
    reply = fresh.request("PATCH", f"/users/{HENRY}", json={"usageLocation": code})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "Request_BadRequest"


def test_patch_unknown_user_is_404(fresh):
    """https://learn.microsoft.com/en-us/graph/api/user-update?view=graph-rest-1.0 and
    https://learn.microsoft.com/en-us/graph/errors (404 Request_ResourceNotFound)."""
    assert fresh.request("PATCH", "/users/nobody@contoso.com", json={"usageLocation": "GB"}).status_code == 404


def test_add_member_twice_is_400(fresh):
    """Adding an existing member: "One or more added object references already exist"
    (https://learn.microsoft.com/en-us/graph/api/group-post-members?view=graph-rest-1.0)."""
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{EVE}"}
    assert fresh.request("POST", f"/groups/{LIC_E5}/members/$ref", json=ref).status_code == 204
    reply = fresh.request("POST", f"/groups/{LIC_E5}/members/$ref", json=ref)
    assert reply.status_code == 400
    assert "already exist" in reply.json()["error"]["message"]


def test_remove_member_answers_204(fresh):
    """DELETE /groups/{id}/members/{id}/$ref answers 204
    (https://learn.microsoft.com/en-us/graph/api/group-delete-members?view=graph-rest-1.0)."""
    frank = "00000006-7e57-4c1d-9a2b-000000006666"
    assert fresh.request("DELETE", f"/groups/{LIC_E5}/members/{frank}/$ref").status_code == 204
    ids = [m["id"] for m in fresh.get(f"/groups/{LIC_E5}/members?$select=id").json()["value"]]
    assert frank not in ids


def test_get_subscribed_sku_by_id(fake):
    """GET /subscribedSkus/{id} with the {tenantId}_{skuId} id
    (https://learn.microsoft.com/en-us/graph/api/subscribedsku-get?view=graph-rest-1.0)."""
    sku = fake.get(f"/subscribedSkus/{fake.tenant_id}_{E3}").json()
    assert sku["skuId"] == E3 and sku["skuPartNumber"] == "ENTERPRISEPACK"
    assert fake.get(f"/subscribedSkus/{fake.tenant_id}_00000000-0000-0000-0000-000000000000").status_code == 404


def test_sdk_get_subscribed_sku_by_id(fake):
    """The SDK's subscribed_skus.by_subscribed_sku_id
    (https://learn.microsoft.com/en-us/graph/api/subscribedsku-get?view=graph-rest-1.0)."""
    sku = fake.sdk(lambda c: c.subscribed_skus.by_subscribed_sku_id(f"{fake.tenant_id}_{E5}").get())
    assert sku.sku_part_number == "ENTERPRISEPREMIUM"


def test_count_of_group_members(fake):
    """GET /groups/{id}/members/$count needs ConsistencyLevel: eventual
    (https://learn.microsoft.com/en-us/graph/api/group-list-members?view=graph-rest-1.0, example "Get only a count of all memberships")."""
    assert fake.get(f"/groups/{LIC_E5}/members/$count").status_code == 400
    reply = fake.get(f"/groups/{LIC_E5}/members/$count", headers=EVENTUAL)
    assert reply.text == "2"
    assert fake.get(f"/groups/{LIC_E5}/members/microsoft.graph.user/$count", headers=EVENTUAL).text == "2"

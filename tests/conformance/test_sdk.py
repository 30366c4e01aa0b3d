"""Microsoft's official Python SDK (msgraph-sdk) against the fake: typed reads, PageIterator,
writes, ODataError, the batch helper and the retry handler."""

import time
import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.item.members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User
from msgraph.generated.models.user_collection_response import UserCollectionResponse
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.count.count_request_builder import CountRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph.generated.groups.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody as GroupAssignLicenseBody,
)
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem
from msgraph_core.tasks.page_iterator import PageIterator

from conftest import ALICE, E3, E5, EXO_P1, LIC_E5, start, wait_until

USER_SELECT = ["id", "userPrincipalName", "assignedLicenses", "licenseAssignmentStates", "usageLocation"]


def users_config(**query):
    return RequestConfiguration(
        query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(**query)
    )


def test_sdk_page_iterator_visits_every_user(big):
    """PageIterator follows @odata.nextLink to the end
    (https://learn.microsoft.com/en-us/graph/sdks/paging?tabs=python)."""

    async def work(client):
        first = await client.users.get(users_config(select=["id"], top=40))
        ids = []

        def collect(user):
            ids.append(user.id)
            return True

        iterator = PageIterator(first, client.request_adapter)
        await iterator.iterate(collect)
        return ids

    ids = big.sdk(work)
    assert len(ids) == 250 and len(set(ids)) == 250


def test_sdk_reads_licences_only_when_selected(fake):
    """The SDK model has assigned_licenses only when $select asked for them (user resource:
    "Returned only on $select", https://learn.microsoft.com/en-us/graph/api/resources/user?view=graph-rest-1.0)."""

    async def work(client):
        plain = await client.users.get()
        selected = await client.users.get(users_config(select=USER_SELECT, top=999))
        return plain, selected

    plain, selected = fake.sdk(work)
    assert all(u.assigned_licenses is None for u in plain.value)
    alice = next(u for u in selected.value if u.id == ALICE)
    assert [str(l.sku_id) for l in alice.assigned_licenses] == [E3]
    assert alice.usage_location == "GB"
    assert alice.license_assignment_states[0].assigned_by_group is None


def test_sdk_get_user_by_user_principal_name(fake):
    """users.by_user_id accepts a UPN (https://learn.microsoft.com/en-us/graph/api/user-get?view=graph-rest-1.0)."""
    user = fake.sdk(lambda c: c.users.by_user_id("alice@contoso.com").get())
    assert user.id == ALICE


def test_sdk_filter_and_count_with_eventual(big):
    """$count with ConsistencyLevel: eventual gives odata_count = the collection total
    (https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""

    async def work(client):
        config = users_config(count=True, top=5, select=["id"])
        config.headers.add("ConsistencyLevel", "eventual")
        return await client.users.get(config)

    page = big.sdk(work)
    assert page.odata_count == 250 and len(page.value) == 5


def test_sdk_raw_count(big):
    """users.count.get() is GET /users/$count, text/plain, with ConsistencyLevel: eventual
    (https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0, example 3)."""

    async def work(client):
        config = RequestConfiguration()
        config.headers.add("ConsistencyLevel", "eventual")
        return await client.users.count.get(config)

    assert big.sdk(work) == 250


def test_sdk_count_of_users_under_a_prefix(big):
    """users.count.get() with a startswith filter and ConsistencyLevel: eventual counts the
    users the filter lists (https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0,
    "Get only a count of users"; https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    prefix_filter = "startswith(userPrincipalName,'s')"

    async def work(client):
        config = RequestConfiguration(
            query_parameters=CountRequestBuilder.CountRequestBuilderGetQueryParameters(filter=prefix_filter)
        )
        config.headers.add("ConsistencyLevel", "eventual")
        counted = await client.users.count.get(config)
        listed = await client.users.get(users_config(filter=prefix_filter, select=["id"], top=999))
        return counted, len(listed.value)

    counted, listed = big.sdk(work)
    assert counted == listed


def test_sdk_subscribed_skus(fake):
    """List subscribedSkus: id is {tenantId}_{skuId}, accountId the tenant
    (https://learn.microsoft.com/en-us/graph/api/subscribedsku-list?view=graph-rest-1.0)."""
    skus = fake.sdk(lambda c: c.subscribed_skus.get()).value
    e3 = next(s for s in skus if s.sku_part_number == "ENTERPRISEPACK")
    assert e3.id == f"{fake.tenant_id}_{E3}"
    assert e3.account_id == fake.tenant_id
    assert e3.prepaid_units.enabled == 10
    assert e3.service_plans and e3.applies_to == "User"


def test_sdk_group_members_cast_to_user(fake):
    """/members/graph.user (the SDK's cast; OData type cast segment) returns the group's user
    members (https://learn.microsoft.com/en-us/graph/api/group-list-members?view=graph-rest-1.0)."""

    async def work(client):
        config = RequestConfiguration(
            query_parameters=GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
                select=["id", "userPrincipalName"]
            )
        )
        return await client.groups.by_group_id(LIC_E5).members.graph_user.get(config)

    members = fake.sdk(work).value
    assert {m.user_principal_name for m in members} == {"carol@contoso.com", "frank@contoso.com"}


def test_sdk_group_members_are_typed_directory_objects(fake):
    """/members returns directoryObjects with @odata.type, which the SDK turns into User
    (https://learn.microsoft.com/en-us/graph/api/group-list-members?view=graph-rest-1.0)."""
    members = fake.sdk(lambda c: c.groups.by_group_id(LIC_E5).members.get()).value
    assert members and all(isinstance(m, User) for m in members)


def test_sdk_assign_license_without_disabled_plans(fresh):
    """assignLicense with an addLicenses item that has no disabledPlans (the SDK leaves unset
    properties out) succeeds and returns the user
    (https://learn.microsoft.com/en-us/graph/api/user-assignlicense?view=graph-rest-1.0)."""
    henry = "00000008-7e57-4c1d-9a2b-000000008888"
    fresh.request("PATCH", f"/users/{henry}", json={"usageLocation": "GB"}).raise_for_status()

    async def work(client):
        body = AssignLicensePostRequestBody(
            add_licenses=[AssignedLicense(sku_id=uuid.UUID(E3))], remove_licenses=[]
        )
        return await client.users.by_user_id(henry).assign_license.post(body)

    user = fresh.sdk(work)
    assert user.id == henry
    states = fresh.get(f"/users/{henry}?$select=licenseAssignmentStates").json()["licenseAssignmentStates"]
    assert [s["skuId"] for s in states] == [E3]


def test_sdk_patch_usage_location(fresh):
    """PATCH /users/{id} with usageLocation answers 204 (https://learn.microsoft.com/en-us/graph/api/user-update?view=graph-rest-1.0)."""
    henry = "00000008-7e57-4c1d-9a2b-000000008888"
    fresh.sdk(lambda c: c.users.by_user_id(henry).patch(User(usage_location="FR")))
    assert fresh.get(f"/users/{henry}?$select=usageLocation").json()["usageLocation"] == "FR"


def test_sdk_add_and_remove_a_member(fresh):
    """POST /groups/{id}/members/$ref then DELETE /groups/{id}/members/{id}/$ref
    (https://learn.microsoft.com/en-us/graph/api/group-post-members?view=graph-rest-1.0,
    https://learn.microsoft.com/en-us/graph/api/group-delete-members?view=graph-rest-1.0)."""
    eve = "00000005-7e57-4c1d-9a2b-000000005555"

    async def add(client):
        ref = ReferenceCreate(odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{eve}")
        await client.groups.by_group_id(LIC_E5).members.ref.post(ref)

    fresh.sdk(add)
    ids = [m["id"] for m in fresh.get(f"/groups/{LIC_E5}/members?$select=id").json()["value"]]
    assert eve in ids
    fresh.sdk(lambda c: c.groups.by_group_id(LIC_E5).members.by_directory_object_id(eve).ref.delete())
    ids = [m["id"] for m in fresh.get(f"/groups/{LIC_E5}/members?$select=id").json()["value"]]
    assert eve not in ids


def test_sdk_group_assign_license_is_accepted(fresh):
    """Group assignLicense answers 202 Accepted; processing of members follows
    (https://learn.microsoft.com/en-us/graph/api/group-assignlicense?view=graph-rest-1.0)."""
    body = {"addLicenses": [{"skuId": EXO_P1, "disabledPlans": []}], "removeLicenses": []}
    reply = fresh.request("POST", f"/groups/{LIC_E5}/assignLicense", json=body)
    assert reply.status_code == 202
    carol = "00000003-7e57-4c1d-9a2b-000000003333"

    def member_has_it():
        states = fresh.get(f"/users/{carol}?$select=licenseAssignmentStates").json()["licenseAssignmentStates"]
        return any(s["skuId"] == EXO_P1 and s["assignedByGroup"] == LIC_E5 for s in states)

    assert wait_until(member_has_it)


def test_sdk_group_assign_license_through_the_sdk(fresh):
    """The SDK's group assignLicense call (same body as the user action) is accepted
    (https://learn.microsoft.com/en-us/graph/api/group-assignlicense?view=graph-rest-1.0)."""

    async def work(client):
        body = GroupAssignLicenseBody(
            add_licenses=[AssignedLicense(sku_id=uuid.UUID(EXO_P1), disabled_plans=[])],
            remove_licenses=[],
        )
        return await client.groups.by_group_id(LIC_E5).assign_license.post(body)

    group = fresh.sdk(work)
    assert group.id == LIC_E5


def test_sdk_odata_error_carries_code_message_and_inner_error(fake):
    """Graph errors are {error: {code, message, innerError: {date, request-id,
    client-request-id}}} and the SDK raises them as ODataError
    (https://learn.microsoft.com/en-us/graph/errors)."""
    with pytest.raises(ODataError) as raised:
        fake.sdk(lambda c: c.users.by_user_id("nobody@contoso.com").get())
    error = raised.value
    assert error.response_status_code == 404
    assert error.error.code == "Request_ResourceNotFound"
    assert error.error.inner_error.request_id
    assert error.error.inner_error.client_request_id
    assert error.error.inner_error.date.year >= 2026


def test_sdk_seat_error_is_an_odata_error(fresh):
    """No free seat: 400 Request_BadRequest "... does not have any available licenses."
    (https://learn.microsoft.com/en-us/graph/api/user-assignlicense?view=graph-rest-1.0;
    message observed on the service)."""
    # ENTERPRISEPREMIUM has 4 seats, 2 used: fill them, then one more.
    users = ["00000001-7e57-4c1d-9a2b-000000001111", "00000002-7e57-4c1d-9a2b-000000002222", "00000004-7e57-4c1d-9a2b-000000004444"]

    async def work(client):
        for user in users:
            body = AssignLicensePostRequestBody(
                add_licenses=[AssignedLicense(sku_id=uuid.UUID(E5), disabled_plans=[])],
                remove_licenses=[],
            )
            await client.users.by_user_id(user).assign_license.post(body)

    with pytest.raises(ODataError) as raised:
        fresh.sdk(work)
    assert raised.value.response_status_code == 400
    assert "does not have any available licenses" in raised.value.error.message


def test_sdk_batch_items_are_readable(fake):
    """The SDK's batch helper reads each item's status and headers; every item answer carries
    Content-Type, request-id and client-request-id
    (https://learn.microsoft.com/en-us/graph/sdks/batch-requests?tabs=python,
    https://learn.microsoft.com/en-us/graph/json-batching)."""

    async def work(client):
        info = client.users.by_user_id(ALICE).to_get_request_information()
        batch = BatchRequestContent()
        item = BatchRequestItem(request_information=info)
        batch.add_request(item.id, item)
        response = await client.batch.post(batch_request_content=batch)
        return response.get_response_by_id(item.id)

    item = fake.sdk(work)
    assert item.status == 200
    # The SDK needs each item's Content-Type to pick a parser (BatchResponseContent.
    # response_body raises "Unable to get content-type header in response item" without it).
    assert item.content_type.startswith("application/json")
    assert item.headers["request-id"] and item.headers["client-request-id"]


def test_sdk_retry_handler_honours_retry_after(throttled):
    """The SDK's RetryHandler waits Retry-After on 429 and retries
    (https://learn.microsoft.com/en-us/graph/sdks/customize-client; throttling:
    https://learn.microsoft.com/en-us/graph/throttling)."""

    # Spend the budget with raw requests until Graph answers 429 with a Retry-After.
    refusal = None
    for _ in range(20):
        reply = throttled.get("/users")
        if reply.status_code == 429:
            refusal = reply
            break
    assert refusal is not None, "a 7 RU bucket refuses the fourth GET /users"
    wait = int(refusal.headers["Retry-After"])
    assert wait >= 1
    assert refusal.json()["error"]["code"] == "TooManyRequests"

    async def work(client):
        started = time.monotonic()
        page = await client.users.get()
        return page, time.monotonic() - started

    page, elapsed = throttled.sdk(work)
    assert len(page.value) == 20, "the SDK's retry got the page"
    assert elapsed >= wait - 0.5, f"the SDK waited Retry-After ({wait} s), took {elapsed:.2f} s"


def test_sdk_retry_handler_rides_out_transient_faults(request):
    """The SDK's RetryHandler retries 429, 503 and 504 (https://learn.microsoft.com/en-us/graph/sdks/customize-client,
    default middleware; transient errors: https://learn.microsoft.com/en-us/graph/best-practices-concept#handling-expected-errors).
    The fake injects them on a seeded schedule, so the run is reproducible."""
    faulty = start("--generate", "30", "--seed", "4", "--fault-rate", "0.3", "--throttle", "off")
    request.addfinalizer(faulty.close)

    async def work(client):
        return [len((await client.users.get(users_config(select=["id"], top=10))).value) for _ in range(8)]

    assert faulty.sdk(work) == [10] * 8
    statuses = [faulty.get("/users?$select=id&$top=1").status_code for _ in range(20)]
    assert any(s in (429, 503, 504) for s in statuses), "the schedule injects faults"

"""The Exchange Online admin API calls m365ctl makes (InvokeCommand: Get-Mailbox,
Get-MailboxStatistics, Set-Mailbox -Type). The REST surface is the one the
ExchangeOnlineManagement v3 module uses ("use REST API connections for all cmdlets":
https://learn.microsoft.com/en-us/powershell/exchange/exchange-online-powershell-v2); the
cmdlets' behaviour is documented per cmdlet."""

import pytest

from conftest import SYSTEM_MAILBOX



def test_get_mailbox_returns_full_records(fake):
    """Get-Mailbox returns the mailbox's properties, not a handful
    (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailbox)."""
    records = fake.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}).json()["value"]
    assert records
    for record in records:
        for key in ["ExternalDirectoryObjectId", "UserPrincipalName", "PrimarySmtpAddress",
                    "RecipientTypeDetails", "Alias", "DisplayName", "Guid", "ExchangeGuid",
                    "ArchiveStatus", "LitigationHoldEnabled", "EmailAddresses", "ProhibitSendQuota"]:
            assert key in record, key


def test_get_mailbox_filters_by_recipient_type_details(fake):
    """-RecipientTypeDetails restricts the types returned
    (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailbox)."""
    records = fake.invoke("Get-Mailbox", {"ResultSize": "Unlimited", "RecipientTypeDetails": ["SharedMailbox"]}).json()["value"]
    assert records and {r["RecipientTypeDetails"] for r in records} == {"SharedMailbox"}


def test_get_mailbox_result_size_limits_and_warns(fake):
    """-ResultSize caps the answer; Exchange warns that more results exist
    (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailbox, -ResultSize)."""
    body = fake.invoke("Get-Mailbox", {"ResultSize": "2"}).json()
    assert len(body["value"]) == 2
    assert any("ResultSize" in w for w in body["@adminapi.warnings"])


def test_get_mailbox_default_result_size_is_1000(big):
    """Without -ResultSize, at most 1,000 mailboxes (default of -ResultSize,
    https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailbox)."""
    body = big.invoke("Get-Mailbox").json()
    assert len(body["value"]) <= 1000


def test_get_mailbox_pages_with_next_link(big):
    """Pages of Prefer: odata.maxpagesize linked by @odata.nextLink, POSTing the same body
    (OData paging, https://learn.microsoft.com/en-us/odata/webapi/server-driven-paging;
    research §5.2 for the adminapi)."""
    body = big.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}, headers={"Prefer": "odata.maxpagesize=100"}).json()
    assert len(body["value"]) == 100
    seen = [r["ExternalDirectoryObjectId"] for r in body["value"]]
    link = body["@odata.nextLink"]
    while link:
        reply = big.http.post(link, json={"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}},
                              headers={"Authorization": f"Bearer {big.token(big.exchange)}", "X-AnchorMailbox": big.anchor(), "Prefer": "odata.maxpagesize=100"})
        page = reply.json()
        seen += [r["ExternalDirectoryObjectId"] for r in page["value"]]
        link = page.get("@odata.nextLink")
    assert len(seen) == len(set(seen)) > 100


def test_get_mailbox_select(fake):
    """$select on InvokeCommand returns only the named properties (the v3 module's
    Get-EXOMailbox -Properties: https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-exomailbox)."""
    records = fake.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}, query="?$select=UserPrincipalName,RecipientTypeDetails").json()["value"]
    assert all(set(r) == {"UserPrincipalName", "RecipientTypeDetails"} for r in records)


@pytest.mark.parametrize("identity", ["alice@contoso.com", "alice", "00000001-7e57-4c1d-9a2b-000000001111"])
def test_get_mailbox_identity_forms(fake, identity):
    """-Identity accepts a UPN, alias or object id
    (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailbox, -Identity)."""
    records = fake.invoke("Get-Mailbox", {"Identity": identity}).json()["value"]
    assert [r["UserPrincipalName"] for r in records] == ["alice@contoso.com"]


def test_get_mailbox_unknown_identity(fake):
    """An unknown identity fails with "couldn't be found" (ManagementObjectNotFoundException,
    https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailbox)."""
    reply = fake.invoke("Get-Mailbox", {"Identity": "nobody@contoso.com"})
    assert reply.status_code == 400
    assert "couldn't be found" in reply.json()["error"]["details"][0]["message"]


@pytest.mark.parametrize("flt", [
    "UserPrincipalName -like 'a*'",
    "(UserPrincipalName -like 'A*') -or (UserPrincipalName -like 'b*')",
    "UserPrincipalName -eq 'CAROL@contoso.com'",
])
def test_get_mailbox_filter_by_user_principal_name(fake, flt):
    """-Filter on UserPrincipalName ("String (wildcards accepted)", available on Get-Mailbox:
    https://learn.microsoft.com/en-us/powershell/exchange/filter-properties), -or and -like with
    a suffix wildcard (https://learn.microsoft.com/en-us/powershell/exchange/recipient-filters);
    text comparisons ignore case."""
    every = fake.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}).json()["value"]
    got = fake.invoke("Get-Mailbox", {"ResultSize": "Unlimited", "Filter": flt}).json()["value"]
    wanted = {"like 'a*'": "a", "-or": "ab", "-eq": "c"}
    initials = next(v for k, v in wanted.items() if k in flt)
    expected = sorted(r["UserPrincipalName"] for r in every if r["UserPrincipalName"][0].lower() in initials)
    if "-eq" in flt:
        expected = ["carol@contoso.com"]
    assert expected and sorted(r["UserPrincipalName"] for r in got) == expected


@pytest.mark.parametrize("flt", ["UserPrincipalName -like '*son.com'", "(UserPrincipalName -like 'a*'"])
def test_get_mailbox_filter_it_cannot_use_is_an_error_not_everything(fake, flt):
    """In Exchange Online the -like wildcard is supported only as a suffix
    (https://learn.microsoft.com/en-us/powershell/exchange/recipient-filters); a filter that
    cannot be used is an error, never an unfiltered answer."""
    reply = fake.invoke("Get-Mailbox", {"ResultSize": "Unlimited", "Filter": flt})
    assert reply.status_code == 400
    assert "Filter" in reply.text


def test_mailbox_statistics_exist_for_every_mailbox(fake):
    """Every mailbox has statistics with TotalItemSize
    (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailboxstatistics)."""
    records = fake.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}).json()["value"]
    for record in records:
        stats = fake.invoke("Get-MailboxStatistics", {"Identity": record["UserPrincipalName"]}).json()["value"]
        assert len(stats) == 1
        assert "bytes)" in stats[0]["TotalItemSize"]


def test_mailbox_statistics_size_text(fake):
    """TotalItemSize is written "N.NN GB (n,nnn bytes)"
    (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailboxstatistics)."""
    stats = fake.invoke("Get-MailboxStatistics", {"Identity": "alice@contoso.com"}).json()["value"][0]
    assert stats["TotalItemSize"].endswith("(3,435,973,836 bytes)")


@pytest.mark.parametrize("anchor", [
    "APP:" + SYSTEM_MAILBOX + "@{tenant}",
    "APP:" + SYSTEM_MAILBOX + "@contoso.com",
    "UPN:alice@contoso.com",
    "SMTP:alice@contoso.com",
])
def test_anchor_mailbox_forms_accepted(fake, anchor):
    """X-AnchorMailbox: the app-only system mailbox at the tenant id or a domain, or a
    mailbox's UPN/SMTP address (app-only connections,
    https://learn.microsoft.com/en-us/powershell/exchange/app-only-auth-powershell-v2)."""
    reply = fake.invoke("Get-Mailbox", {"Identity": "alice@contoso.com"}, anchor=anchor.replace("{tenant}", fake.tenant_id))
    assert reply.status_code == 200


def test_missing_anchor_is_refused(fake):
    """Exchange routes by X-AnchorMailbox; without one the call is refused
    (https://learn.microsoft.com/en-us/powershell/exchange/app-only-auth-powershell-v2)."""
    assert fake.invoke("Get-Mailbox", {"Identity": "alice@contoso.com"}, anchor="").status_code == 400


def test_graph_token_is_refused_by_exchange(fake):
    """Exchange needs a token for its own resource (scope https://outlook.office365.com/.default:
    https://learn.microsoft.com/en-us/powershell/exchange/app-only-auth-powershell-v2)."""
    reply = fake.invoke("Get-Mailbox", {"Identity": "alice@contoso.com"}, headers={"Authorization": f"Bearer {fake.token(fake.base)}"})
    assert reply.status_code == 401


def test_set_mailbox_type_shared_then_regular(fresh):
    """Set-Mailbox -Type Shared converts; -Type Regular converts back
    (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/set-mailbox, -Type)."""
    assert fresh.invoke("Set-Mailbox", {"Identity": "alice@contoso.com", "Type": "Shared"}).status_code == 200
    record = fresh.invoke("Get-Mailbox", {"Identity": "alice@contoso.com"}).json()["value"][0]
    assert record["RecipientTypeDetails"] == "SharedMailbox" and record["IsShared"] is True
    assert fresh.invoke("Set-Mailbox", {"Identity": "alice@contoso.com", "Type": "Regular"}).status_code == 200
    record = fresh.invoke("Get-Mailbox", {"Identity": "alice@contoso.com"}).json()["value"][0]
    assert record["RecipientTypeDetails"] == "UserMailbox"


def test_set_mailbox_bad_type(fresh):
    """-Type takes Regular, Room, Equipment, Shared (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/set-mailbox)."""
    assert fresh.invoke("Set-Mailbox", {"Identity": "alice@contoso.com", "Type": "Linked"}).status_code == 400


# The adminapi's JSON batch: undocumented by Microsoft; the shape is the one the peer tool
# CIPP sends (docs/graph.md, "Exchange `$batch`").


def exo_batch(fake, calls, prefer="odata.maxpagesize = 1000;odata.continue-on-error"):
    """POSTs `calls` [(id, cmdlet, parameters)] in one envelope as CIPP's New-ExoBulkRequest does."""
    invoke = f"{fake.exchange}/adminapi/beta/{fake.tenant_id}/InvokeCommand"
    requests = [{
        "id": id_,
        "method": "POST",
        "url": invoke,
        "body": {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}},
        "headers": {"X-AnchorMailbox": fake.anchor(), "X-CmdletName": cmdlet,
                    "Accept": "application/json; odata.metadata=minimal"},
    } for id_, cmdlet, parameters in calls]
    headers = {"Authorization": f"Bearer {fake.token(fake.exchange)}", "Prefer": prefer,
               "parameter-based-routing": "true", "X-AnchorMailbox": fake.anchor()}
    return fake.http.post(f"{fake.exchange}/adminapi/beta/{fake.tenant_id}/$batch",
                          json={"requests": requests}, headers=headers)


def test_batch_answers_each_item_as_a_lone_call(fake):
    """Each item of an envelope is answered with its own status and the body a lone
    InvokeCommand gives, matched by the echoed id
    (https://github.com/KelvinTegelaar/CIPP-API/blob/059a8a0f80577e082a1dcf50f93df549dbb00465/Modules/CIPPCore/Public/GraphHelper/New-ExoBulkRequest.ps1;
    per-item status as in https://learn.microsoft.com/en-us/graph/json-batching)."""
    upns = ["alice@contoso.com", "nobody@contoso.com", "bob@contoso.com"]
    calls = [(f"id-{i}", "Get-MailboxStatistics", {"Identity": upn}) for i, upn in enumerate(upns)]
    reply = exo_batch(fake, calls)
    assert reply.status_code == 200
    responses = {r["id"]: r for r in reply.json()["responses"]}
    assert set(responses) == {"id-0", "id-1", "id-2"}
    for i, upn in enumerate(upns):
        lone = fake.invoke("Get-MailboxStatistics", {"Identity": upn})
        item = responses[f"id-{i}"]
        assert item["status"] == lone.status_code
        if lone.status_code == 200:
            assert item["body"]["value"] == lone.json()["value"]
        else:
            assert item["body"]["error"]["details"] == lone.json()["error"]["details"]
            assert "ManagementObjectNotFoundException" in item["body"]["error"]["details"][0]["message"]



def test_batch_of_ten_is_served_and_eleven_refused(fake):
    """CIPP splits its cmdlets "into batches of 10"; ten is the only size known to work, so an
    envelope of eleven is refused whole with an Exchange error
    (https://github.com/KelvinTegelaar/CIPP-API/blob/059a8a0f80577e082a1dcf50f93df549dbb00465/Modules/CIPPCore/Public/GraphHelper/New-ExoBulkRequest.ps1)."""
    ten = [(f"{i}", "Get-MailboxStatistics", {"Identity": "alice@contoso.com"}) for i in range(10)]
    reply = exo_batch(fake, ten)
    assert reply.status_code == 200
    assert sorted(r["status"] for r in reply.json()["responses"]) == [200] * 10
    eleven = ten + [("10", "Get-MailboxStatistics", {"Identity": "alice@contoso.com"})]
    reply = exo_batch(fake, eleven)
    assert reply.status_code == 400
    assert "responses" not in reply.json()
    assert reply.json()["error"]["details"][0]["message"]


def test_batch_needs_an_exchange_token(fake):
    """The envelope is an adminapi call: a Graph token is refused as for InvokeCommand
    (https://learn.microsoft.com/en-us/powershell/exchange/app-only-auth-powershell-v2;
    https://github.com/KelvinTegelaar/CIPP-API/blob/059a8a0f80577e082a1dcf50f93df549dbb00465/Modules/CIPPCore/Public/GraphHelper/New-ExoBulkRequest.ps1)."""
    reply = fake.http.post(f"{fake.exchange}/adminapi/beta/{fake.tenant_id}/$batch",
                           json={"requests": []},
                           headers={"Authorization": f"Bearer {fake.token(fake.base)}"})
    assert reply.status_code == 401


def test_batch_item_without_anchor_is_refused_alone(fake):
    """Each item carries its own X-AnchorMailbox (CIPP sets it per item); an item without one
    is refused as a lone call would be, the others answered
    (https://github.com/KelvinTegelaar/CIPP-API/blob/059a8a0f80577e082a1dcf50f93df549dbb00465/Modules/CIPPCore/Public/GraphHelper/New-ExoBulkRequest.ps1)."""
    invoke = f"{fake.exchange}/adminapi/beta/{fake.tenant_id}/InvokeCommand"
    body = {"CmdletInput": {"CmdletName": "Get-MailboxStatistics", "Parameters": {"Identity": "alice@contoso.com"}}}
    requests = [
        {"id": "a", "method": "POST", "url": invoke, "body": body, "headers": {"X-AnchorMailbox": fake.anchor()}},
        {"id": "b", "method": "POST", "url": invoke, "body": body, "headers": {}},
    ]
    reply = fake.http.post(f"{fake.exchange}/adminapi/beta/{fake.tenant_id}/$batch", json={"requests": requests},
                           headers={"Authorization": f"Bearer {fake.token(fake.exchange)}",
                                    "Prefer": "odata.continue-on-error", "X-AnchorMailbox": fake.anchor()})
    statuses = {r["id"]: r["status"] for r in reply.json()["responses"]}
    assert statuses == {"a": 200, "b": 400}


def test_batch_stops_at_the_first_error_without_continue_on_error(fake):
    """Without `Prefer: odata.continue-on-error` the service returns the failed item's error and
    processes no further items (OData 4.01 Part 1 §8.2.8.3,
    https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part1-protocol.html#sec_Preferencecontinueonerrorodatacontin);
    CIPP sends the preference for that reason."""
    calls = [("0", "Get-MailboxStatistics", {"Identity": "nobody@contoso.com"}),
             ("1", "Get-MailboxStatistics", {"Identity": "alice@contoso.com"})]
    reply = exo_batch(fake, calls, prefer="odata.maxpagesize=1000")
    assert [r["id"] for r in reply.json()["responses"]] == ["0"]
    reply = exo_batch(fake, calls)
    assert sorted(r["id"] for r in reply.json()["responses"]) == ["0", "1"]

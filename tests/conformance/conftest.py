"""Fixtures of the conformance suite: the fake Graph + Exchange (`m365ctl sim serve`) started
as a process, raw HTTP helpers (httpx) and Microsoft's official Python SDK (msgraph-sdk) wired
to it.

The fake is the only stand-in for Microsoft m365ctl is tested against, so it is held to what
Microsoft documents. Every test names the Microsoft document whose behaviour it asserts.
"""

import asyncio
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BINARY = Path(os.environ.get("M365CTL_BIN", ROOT / "target" / "debug" / "m365ctl"))
SECRET = "sim-client-secret"
SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"

# The conformance tenant (tests/conformance/tenant.json): the quickstart company plus two
# unlicensed groups that share a display name.
ALICE = "00000001-7e57-4c1d-9a2b-000000001111"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
EXO_P1 = "4b9405b0-7788-4568-add1-99614e613b69"
LIC_E5 = "a5e1c0de-0000-4000-8000-0000000000e5"


class Fake:
    """One running `m365ctl sim serve` and raw HTTP access to it."""

    def __init__(self, *args):
        if not BINARY.exists():
            raise RuntimeError(f"{BINARY} is missing: run `cargo build` first")
        self.process = subprocess.Popen(
            [str(BINARY), "sim", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        fields = {}
        for line in self.process.stdout:
            if "listening on" in line:
                self.base = line.rsplit(" ", 1)[1].strip()
            if " = " in line:
                key, value = line.split(" = ", 1)
                fields[key.strip()] = value.strip().strip('"')
            if line.startswith("export ") and "=" in line:
                key, value = line[len("export "):].split("=", 1)
                fields[key.strip()] = value.strip()
            if "M365CTL_EXCHANGE_HOST" in fields:
                break
        self.tenant_id = fields["tenant_id"]
        self.client_id = fields["client_id"]
        self.exchange = fields["M365CTL_EXCHANGE_HOST"]
        self.http = httpx.Client(timeout=60)
        self._tokens = {}

    def close(self):
        self.http.close()
        self.process.terminate()
        self.process.wait(timeout=10)

    def token_response(self, scope, secret=SECRET):
        return self.http.post(
            f"{self.base}/{self.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": secret,
                "scope": scope,
            },
        )

    def token(self, audience):
        if audience not in self._tokens:
            reply = self.token_response(f"{audience}/.default")
            reply.raise_for_status()
            self._tokens[audience] = reply.json()["access_token"]
        return self._tokens[audience]

    def request(self, method, path, headers=None, **kwargs):
        """A Graph call (`path` under /v1.0) with a valid app-only token."""
        all_headers = {"Authorization": f"Bearer {self.token(self.base)}"}
        all_headers.update(headers or {})
        return self.http.request(method, f"{self.base}/v1.0{path}", headers=all_headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def anchor(self):
        return f"APP:{SYSTEM_MAILBOX}@{self.tenant_id}"

    def invoke(self, cmdlet, parameters=None, anchor=None, query="", headers=None):
        """An Exchange admin API call as the ExchangeOnlineManagement v3 module makes it."""
        all_headers = {
            "Authorization": f"Bearer {self.token(self.exchange)}",
            "Prefer": "odata.maxpagesize=1000",
            "X-AnchorMailbox": anchor if anchor is not None else self.anchor(),
        }
        all_headers.update(headers or {})
        if all_headers["X-AnchorMailbox"] == "":
            del all_headers["X-AnchorMailbox"]
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
        url = f"{self.exchange}/adminapi/beta/{self.tenant_id}/InvokeCommand{query}"
        return self.http.post(url, json=body, headers=all_headers)

    def sdk(self, work, retry=True):
        """Runs `await work(client)` with a GraphServiceClient pointed at the fake (the SDK's
        default middleware: retry, redirect, parameters-name decoding, telemetry)."""
        fake = self

        class Tokens(AccessTokenProvider):
            async def get_authorization_token(self, uri, additional_authentication_context=None):
                return fake.token(fake.base)

            def get_allowed_hosts_validator(self):
                return AllowedHostsValidator([])

        async def main():
            base = httpx.AsyncClient(base_url=f"{fake.base}/v1.0", timeout=60)
            http = GraphClientFactory.create_with_default_middleware(client=base)
            adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(Tokens()), http)
            adapter.base_url = f"{fake.base}/v1.0"
            try:
                return await work(GraphServiceClient(request_adapter=adapter))
            finally:
                await base.aclose()

        return asyncio.run(main())


def start(*args):
    return Fake(*args)


@pytest.fixture(scope="module")
def fake():
    """The conformance tenant, shared by read-only tests of a module."""
    f = start("--snapshot", str(HERE / "tenant.json"))
    yield f
    f.close()


@pytest.fixture
def fresh():
    """The conformance tenant, fresh for one test that writes."""
    f = start("--snapshot", str(HERE / "tenant.json"))
    yield f
    f.close()


@pytest.fixture(scope="session")
def big():
    """A generated tenant of 250 users (paging, counts)."""
    f = start("--generate", "250", "--seed", "7")
    yield f
    f.close()


@pytest.fixture
def throttled():
    """A small generated tenant under Microsoft's throttling model scaled down to a handful
    of resource units (3,500 x 0.002 = 7 RU per 10 s; 6 writes per 150 s)."""
    f = start("--generate", "20", "--throttle", "microsoft", "--throttle-scale", "0.002")
    yield f
    f.close()


def wait_until(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def pytest_collection_modifyitems(config, items):
    """Every case must cite the Microsoft document whose behaviour it asserts: a test without
    a https:// source in its docstring fails the collection."""
    uncited = [item.nodeid for item in items if "https://" not in (item.function.__doc__ or "")]
    if uncited:
        raise pytest.UsageError("cases without a cited source: " + ", ".join(uncited))

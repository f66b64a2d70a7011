"""The SSRF guard: only http(s), only public addresses (after real resolution), unless allowed."""

from __future__ import annotations

import pytest

from ingestion.web.errors import UrlRefused
from ingestion.web.guard import check_url

pytestmark = pytest.mark.unit

PUBLIC = "93.184.216.34"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.8.9.10:8080/x", "loopback"),
        ("http://localhost:8077/api", "loopback"),  # real resolution of the name
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
        ("http://[::ffff:10.1.2.3]/", "private"),
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 form of 169.254.169.254
        ("http://[2002:a00:1::]/", "private"),  # 6to4 of 10.0.0.1
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://100.64.0.1/", "shared (CGNAT)"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "private"),  # reserved 240/4: Python counts it private
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number, as getaddrinfo reads it
    ],
)
def test_non_public_addresses_are_refused(url: str, kind: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, allow_private=False)
    assert refused.value.code == "private_address"
    assert f"a {kind} address" in refused.value.detail
    assert "urls.allow_private" in refused.value.detail


def test_allow_private_lets_them_through() -> None:
    target = check_url("http://localhost:8077/api?q=1#frag", allow_private=True)
    assert target.address in ("127.0.0.1", "::1")
    assert target.url == "http://localhost:8077/api?q=1"
    assert target.host_header == "localhost:8077"


def test_every_resolved_address_is_checked() -> None:
    # A name with a public and a private address is refused: the connection could use either.
    with pytest.raises(UrlRefused) as refused:
        check_url("http://mixed.test/", allow_private=False, resolver=lambda h, p: [PUBLIC, "10.0.0.7"])
    assert refused.value.code == "private_address"
    target = check_url("http://Public.TEST./page", allow_private=False, resolver=lambda h, p: [PUBLIC])
    assert (target.url, target.address, target.address_url) == (
        "http://public.test/page",
        PUBLIC,
        f"http://{PUBLIC}:80/page",
    )


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.org/file", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("http://user:secret@example.org/", "credentials"),
        ("http:///nohost", "invalid_url"),
        ("http://example.org:99999/", "invalid_url"),
        ("http://no-such-host.invalid/", "unresolvable"),
    ],
)
def test_malformed_and_foreign_urls_are_refused(url: str, code: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, allow_private=True)
    assert refused.value.code == code

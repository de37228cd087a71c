"""User-supplied URLs reach only globally routable addresses, unless the allow-list says so."""

from __future__ import annotations

import pytest

from channels import addresses
from channels.addresses import url_problem


@pytest.fixture
def no_allow_list(settings):
    settings.NOTIFIER_URL_ALLOWLIST = []
    return settings


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # shared address space (carrier-grade NAT), RFC 6598
        "100.100.100.200",  # Alibaba Cloud's metadata service, inside 100.64.0.0/10
        "0.0.0.0",
        "198.18.0.1",  # benchmarking
        "192.0.2.10",  # documentation
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:100.100.100.200",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 around 169.254.169.254
        "2002:0a01:0203::1",  # 6to4 around 10.1.2.3
        "64:ff9b::7f00:1",  # NAT64 around 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "64:ff9b:1::a01:203",  # local-use NAT64 prefix, RFC 8215
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
        "ff02::1",
    ],
)
def test_it_refuses_every_address_that_is_not_globally_routable(no_allow_list, address):
    host = f"[{address}]" if ":" in address else address
    problem = url_problem(f"http://{host}/hook")
    assert problem is not None, address
    assert "NOTIFIER_URL_ALLOWLIST" in problem


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
        "2002:5db8:d822::1",  # 6to4 around a public address
        "64:ff9b::5db8:d822",  # NAT64 around a public address
    ],
)
def test_it_admits_public_addresses(no_allow_list, address):
    host = f"[{address}]" if ":" in address else address
    assert url_problem(f"https://{host}/hook") is None


def test_it_refuses_a_name_when_any_of_its_addresses_is_internal(no_allow_list, monkeypatch):
    monkeypatch.setattr(
        addresses, "resolve", lambda host, port: ["93.184.216.34", "100.100.100.200"]
    )
    problem = url_problem("https://hooks.example.com/deploy")
    assert problem is not None and "100.100.100.200" in problem
    assert "NOTIFIER_URL_ALLOWLIST" in problem and "hooks.example.com" in problem


def test_the_allow_list_still_admits_a_named_host_or_block(settings, monkeypatch):
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["100.64.1.2"])
    settings.NOTIFIER_URL_ALLOWLIST = ["hooks.internal"]
    assert url_problem("http://hooks.internal/deploy") is None
    settings.NOTIFIER_URL_ALLOWLIST = ["100.64.0.0/10"]
    assert url_problem("http://hooks.internal/deploy") is None
    settings.NOTIFIER_URL_ALLOWLIST = ["10.0.0.0/8"]
    assert url_problem("http://hooks.internal/deploy") is not None


def test_a_name_that_does_not_resolve_is_named_in_the_problem(no_allow_list, monkeypatch):
    def fail(host, port):
        raise OSError("no such host")

    monkeypatch.setattr(addresses, "resolve", fail)
    assert url_problem("https://nowhere.example/hook") == (
        "names a host that does not resolve (nowhere.example)"
    )

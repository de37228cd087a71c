"""channels.http: user URLs connect to the address that was checked, error bodies are shown as
short redacted excerpts, and every sending thread has its own HTTP session."""

from __future__ import annotations

import socket
import threading

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from channels import http, webhook
from channels.base import ChannelError
from channels.webhook import WebhookSetup

REBINDING_NAME = "rebind.notifier.test"


class FlippingDns:
    """Stands in for DNS for one name: the first answer, then another for every later query
    (a DNS-rebinding attacker's name with a zero TTL). Other names resolve as usual."""

    def __init__(self, monkeypatch, name: str, first: str, later: str):
        self.name, self.first, self.later = name, first, later
        self.queries = 0
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)

    def getaddrinfo(self, host, port, *args, **kwargs):
        if host != self.name:
            return self._real(host, port, *args, **kwargs)
        self.queries += 1
        address = self.first if self.queries == 1 else self.later
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 80)))]


def test_it_connects_to_the_address_it_checked_not_to_a_second_dns_answer(
    httpserver, settings, monkeypatch, failed_event
):
    settings.NOTIFIER_URL_ALLOWLIST = []
    settings.NOTIFIER_SEND_TIMEOUT = 0.5
    httpserver.expect_request("/hook").respond_with_data("internal admin reached")
    dns = FlippingDns(monkeypatch, REBINDING_NAME, first="93.184.216.34", later="127.0.0.1")
    url = f"http://{REBINDING_NAME}:{httpserver.port}/hook"

    with pytest.raises(ChannelError):  # 93.184.216.34 does not serve that port
        webhook.send(failed_event, WebhookSetup(url=url))

    assert httpserver.log == []
    assert dns.queries == 1


@pytest.fixture
def second_loopback_server(httpserver):
    """A server on 127.0.0.2 with the same port as `httpserver` (on 127.0.0.1)."""
    server = HTTPServer(host="127.0.0.2", port=httpserver.port)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_it_sends_to_the_checked_address_with_the_name_in_the_host_header(
    httpserver, second_loopback_server, settings, monkeypatch, failed_event
):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.2"]  # the checked address, not 127.0.0.1
    httpserver.expect_request("/hook").respond_with_data("internal admin reached")
    second_loopback_server.expect_request("/hook", method="POST").respond_with_data("ok")
    FlippingDns(monkeypatch, REBINDING_NAME, first="127.0.0.2", later="127.0.0.1")
    url = f"http://{REBINDING_NAME}:{httpserver.port}/hook"

    delivery = webhook.send(failed_event, WebhookSetup(url=url))

    assert delivery.response_status == 200
    assert httpserver.log == []
    (request, _), *_ = second_loopback_server.log
    assert request.headers["Host"] == f"{REBINDING_NAME}:{httpserver.port}"


def test_proxies_from_the_environment_do_not_carry_user_urls(
    httpserver, allow_local, monkeypatch, failed_event
):
    proxy = HTTPServer(host="127.0.0.1", port=0)
    proxy.expect_request("/hook").respond_with_data("proxied")
    proxy.start()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
            monkeypatch.setenv(name, proxy.url_for("/").rstrip("/"))
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        httpserver.expect_request("/hook").respond_with_data("direct")

        delivery = webhook.send(failed_event, WebhookSetup(url=httpserver.url_for("/hook")))

        assert delivery.response_status == 200
        assert proxy.log == []
        assert len(httpserver.log) == 1
    finally:
        proxy.clear()
        proxy.stop()


def test_an_error_body_is_shown_as_a_short_redacted_single_line_excerpt(
    httpserver, allow_local, failed_event
):
    secret = "hdr-secret-value-0123456789"
    body = ("line one\n\tline two " + "x" * 170 + secret + " ") * 5000  # ~1 MB
    assert len(body) > 1_000_000
    httpserver.expect_request("/hook").respond_with_data(body, status=500)
    setup = WebhookSetup(url=httpserver.url_for("/hook"), headers=f"X-Api-Key: {secret}")

    with pytest.raises(ChannelError) as caught:
        webhook.send(failed_event, setup)

    message = caught.value.message
    assert caught.value.retryable and caught.value.response_status == 500
    assert message.startswith("the webhook had a server error (500): line one line two xxx")
    assert len(message) <= 300
    assert "\n" not in message and "\t" not in message
    assert "hdr-secret" not in message and "0123456789" not in message


def test_a_secret_cut_by_the_excerpt_is_masked_too(httpserver, allow_local, failed_event):
    secret = "hdr-secret-value-0123456789"
    httpserver.expect_request("/hook").respond_with_data("y" * 190 + secret, status=400)
    setup = WebhookSetup(url=httpserver.url_for("/hook"), headers=f"X-Api-Key: {secret}")

    with pytest.raises(ChannelError) as caught:
        webhook.send(failed_event, setup)

    assert "refused the request (400)" in caught.value.message
    assert "hdr-sec" not in caught.value.message
    assert caught.value.message.endswith("…")


def test_a_redirect_location_is_shown_as_an_excerpt(httpserver, allow_local, failed_event):
    location = "https://elsewhere.example/" + "a" * 5000
    httpserver.expect_request("/hook").respond_with_response(
        Response("", status=302, headers={"Location": location})
    )
    with pytest.raises(ChannelError, match="redirect") as caught:
        webhook.send(failed_event, WebhookSetup(url=httpserver.url_for("/hook")))
    assert len(caught.value.message) <= 400


def test_every_sending_thread_has_its_own_session():
    seen: dict[str, list] = {}  # holds the sessions, so a finished thread's is not reused

    def use(name: str) -> None:
        seen[name] = [http.session(), http.session()]

    threads = [threading.Thread(target=use, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen["a"][0] is seen["a"][1]
    assert seen["b"][0] is seen["b"][1]
    assert seen["a"][0] is not seen["b"][0]
    assert http.session() not in (seen["a"][0], seen["b"][0])
    assert http.session() is http.session()
    assert http.session().headers["User-Agent"] == http.USER_AGENT


def certificate_authority(tmp_path, name: str):
    """A throwaway CA and a server certificate for `name`: (ssl context, CA bundle path)."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject, issuer, key, signer, *, ca: bool, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("Test CA", "Test CA", ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(name, "Test CA", key, ca_key, ca=False, san=name)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    return context, str(tmp_path / "ca.pem")


@pytest.fixture
def tls_server(tmp_path):
    context, ca_bundle = certificate_authority(tmp_path, "hooks.notifier.test")
    names: list[str | None] = []
    context.sni_callback = lambda sock, server_name, ctx: names.append(server_name)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield server, ca_bundle, names
    server.clear()
    server.stop()


def test_tls_is_checked_against_the_host_name_while_connecting_to_the_checked_address(
    tls_server, settings, monkeypatch
):
    from channels import addresses

    server, ca_bundle, server_names = tls_server
    settings.NOTIFIER_URL_ALLOWLIST = ["hooks.notifier.test"]
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["127.0.0.1"])
    server.expect_request("/hook").respond_with_data("ok")

    response = http.request(
        "POST",
        f"https://hooks.notifier.test:{server.port}/hook",
        what="the webhook",
        user_url=True,
        verify=ca_bundle,
    )

    assert response.status_code == 200
    assert server_names == ["hooks.notifier.test"]  # SNI
    (request, _), *_ = server.log
    assert request.headers["Host"] == f"hooks.notifier.test:{server.port}"


def test_a_certificate_for_another_name_is_refused(tls_server, settings, monkeypatch):
    from channels import addresses

    server, ca_bundle, _ = tls_server
    settings.NOTIFIER_URL_ALLOWLIST = ["other.notifier.test"]
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["127.0.0.1"])

    with pytest.raises(ChannelError, match="could not connect"):
        http.request(
            "POST",
            f"https://other.notifier.test:{server.port}/hook",
            what="the webhook",
            user_url=True,
            verify=ca_bundle,
        )
    assert server.log == []


def test_it_tries_the_next_checked_address_when_one_refuses_the_connection(
    httpserver, settings, monkeypatch, failed_event
):
    from channels import addresses

    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.0/8"]
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["127.0.0.3", "127.0.0.1"])
    httpserver.expect_request("/hook").respond_with_data("ok")

    delivery = webhook.send(
        failed_event, WebhookSetup(url=f"http://hooks.notifier.test:{httpserver.port}/hook")
    )

    assert delivery.response_status == 200
    assert len(httpserver.log) == 1

"""The network policy: deny-list first, the server's own API, then the allow-list."""

from __future__ import annotations

import pytest

from framewarden.config import Settings
from framewarden.errors import ConfigError
from framewarden.netpolicy import AddressRefusedError, NetworkPolicy

FAKE_DNS = {
    "cams.example.com": ["10.1.2.3"],
    "rebind.example.com": ["10.1.2.3", "169.254.169.254"],
    "api.local": ["127.0.0.1"],
}


def resolver(host: str) -> list[str]:
    return FAKE_DNS.get(host, [])


def policy(allow: tuple[str, ...] = ()) -> NetworkPolicy:
    deny = Settings().network_deny  # the defaults
    return NetworkPolicy.build(allow=allow, deny=deny, api_port=8080, api_host="127.0.0.1", resolver=resolver)


@pytest.mark.parametrize(
    ("url", "allow", "refused"),
    [
        ("rtmp://127.0.0.1/live/a", (), ""),
        ("http://169.254.169.254/latest/meta-data/", (), "denied by network_deny"),
        ("http://[fd00:ec2::254]/latest/meta-data/", (), "denied by network_deny"),
        ("http://[::ffff:169.254.169.254]/", (), "denied by network_deny"),  # v4-mapped v6
        ("http://metadata.google.internal/computeMetadata/v1/", (), "denied by network_deny"),
        ("http://rebind.example.com/x", (), "denied by network_deny"),  # any resolved address counts
        ("http://127.0.0.1:8080/v1/keys", (), "framewarden's own API"),
        ("http://localhost:8080/v1/keys", (), "framewarden's own API"),
        ("http://api.local:8080/v1/keys", (), "framewarden's own API"),
        ("http://0.0.0.0:8080/v1/keys", (), "framewarden's own API"),
        ("http://127.0.0.1:8081/control", (), ""),
        ("rtsp://cams.example.com/s1", ("10.0.0.0/8",), ""),
        ("rtsp://cams.example.com/s1", ("cams.example.com",), ""),
        ("rtsp://cams.example.com/s1", ("*.example.com",), ""),
        ("rtsp://192.168.1.5/s1", ("10.0.0.0/8",), "not in network_allow"),
        ("rtsp://nowhere.invalid/s1", ("10.0.0.0/8",), "does not resolve"),
        ("rtsp://nowhere.invalid/s1", (), ""),  # cannot be judged: the connection fails the same way
        ("http://169.254.169.254/", ("169.254.0.0/16",), "denied by network_deny"),  # deny wins
    ],
)
def test_check_url(url: str, allow: tuple[str, ...], refused: str) -> None:
    if not refused:
        assert policy(allow).check_url(url) == url
    else:
        with pytest.raises(AddressRefusedError, match=refused):
            policy(allow).check_url(url)


def test_refusals_mask_credentials() -> None:
    with pytest.raises(AddressRefusedError) as info:
        policy().check_url("rtsp://admin:hunter2@169.254.1.1/s1", what="source")
    assert "hunter2" not in str(info.value) and "rtsp://***@169.254.1.1/s1" in str(info.value)


def test_bad_entries_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="network_allow"):
        NetworkPolicy.build(allow=["not a host/"])

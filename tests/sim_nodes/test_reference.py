"""Image reference grammar (distribution/reference) and the kubelet's InvalidImageName text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runspaced.sim.reference import (
    InvalidReference,
    go_quote,
    invalid_image_message,
    parse_normalized_named,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pod-cases"

VALID = [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27"),
    ("library/nginx", "docker.io/library/nginx:latest"),
    ("index.docker.io/library/nginx", "docker.io/library/nginx:latest"),
    ("jupyter/scipy-notebook", "docker.io/jupyter/scipy-notebook:latest"),
    ("registry.example.com/team/app:v1.2.3", "registry.example.com/team/app:v1.2.3"),
    ("localhost:5000/foo/bar:dev", "localhost:5000/foo/bar:dev"),
    ("localhost/app", "localhost/app:latest"),
    ("[::1]:5000/app:1", "[::1]:5000/app:1"),
    ("my_registry.local/a__b/c--d:1", "my_registry.local/a__b/c--d:1"),
    ("Registry.Example.com/app", "Registry.Example.com/app:latest"),
    ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64),
    ("busybox:1.36@sha256:" + "b" * 64, "docker.io/library/busybox@sha256:" + "b" * 64),
    ("app:" + "t" * 128, "docker.io/library/app:" + "t" * 128),
]

INVALID = [
    ("registry.example.com/eck-snapshot\u200bs/eck-operator:1.0.0", "invalid reference format"),
    ("busyBOX", "invalid reference format: repository name (library/busyBOX) must be lowercase"),
    ("team/MyApp:1", "invalid reference format: repository name (team/MyApp) must be lowercase"),
    ("registry.hub.docker.com/library//nginx:latest", "invalid reference format"),
    ("nginx:", "invalid reference format"),
    (":1.0", "invalid reference format"),
    ("app/", "invalid reference format"),
    ("app:-tag", "invalid reference format"),
    ("app:" + "t" * 129, "invalid reference format"),
    ("app:tag with space", "invalid reference format"),
    ("-app", "invalid reference format"),
    ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
    ("busybox@sha256:" + "A" * 64, "invalid checksum digest format"),
    ("busybox@sha256:" + "a" * 31, "invalid reference format"),
    ("busybox@sha256:" + "a" * 40, "invalid checksum digest length"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("x/" + "a" * 260, "repository name must not be more than 255 characters"),
]


@pytest.mark.parametrize(("image", "canonical"), VALID)
def test_valid_reference_parses(image: str, canonical: str) -> None:
    assert parse_normalized_named(image).canonical == canonical


@pytest.mark.parametrize(("image", "message"), INVALID)
def test_invalid_reference_raises(image: str, message: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_normalized_named(image)
    assert str(caught.value) == message


def test_reference_splits_domain_and_path() -> None:
    reference = parse_normalized_named("localhost:5000/team/app:v1")
    assert reference.domain == "localhost:5000"
    assert reference.path == "team/app"
    assert reference.tag == "v1"
    assert reference.digest is None
    assert reference.repository == "localhost:5000/team/app"


def test_zero_width_space_message_matches_fixture() -> None:
    fixture = json.loads((FIXTURES / "13-invalidimagename-zero-width-space.json").read_text())
    image = fixture["pod"]["status"]["containerStatuses"][0]["image"]
    posted = fixture["pod"]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    with pytest.raises(InvalidReference) as caught:
        parse_normalized_named(image)
    message = invalid_image_message(image, caught.value)

    # The posted message is from a kubelet before 1.27 ("image reference"); the quoting of
    # the zero-width space as \u200b and the error text are the same in both versions.
    assert message == posted.replace("couldn't parse image reference", "couldn't parse image name")
    assert "\\u200b" in message
    assert "\u200b" not in message


def test_go_quote_escapes_like_strconv_quote() -> None:
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("tab\there") == '"tab\\there"'
    assert go_quote("\x00") == '"\\x00"'
    assert go_quote("caf\u00e9") == '"caf\u00e9"'
    assert go_quote("\u00a0") == '"\\u00a0"'
    assert go_quote("\U000e0001") == '"\\U000e0001"'

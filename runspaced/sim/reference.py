"""Container image references parsed by the grammar of github.com/distribution/reference.

The kubelet normalizes every image with ParseNormalizedNamed before it pulls, and a
failure there is what a pod reports as InvalidImageName. This module implements that
grammar and its error texts, so the simulator rejects exactly the references a real
kubelet rejects (a zero-width space, an uppercase repository, a trailing slash, ...):

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain '/'] remote-name
    domain           := host [':' port-number]
    host             := domain-name | IPv4address | '[' IPv6address ']'
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    path-component   := /[a-z0-9]+/ [separator /[a-z0-9]+/]*
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := algorithm ":" hex, at least 32 hex digits

Familiar names get the Docker Hub defaults: "nginx" is "docker.io/library/nginx".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ImageReference",
    "InvalidReference",
    "go_quote",
    "invalid_image_message",
    "parse_normalized_named",
]

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_HOST = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6 + r")"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME

# re.ASCII: Go's \w is [0-9A-Za-z_] only, Python's would take any Unicode letter.
_REFERENCE_RE = re.compile(
    r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?", re.ASCII
)
_ANCHORED_NAME_RE = re.compile(
    r"(?:(" + _DOMAIN_AND_PORT + r")/)?(" + _REMOTE_NAME + r")", re.ASCII
)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")

REPOSITORY_NAME_MAX = 255
DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"

# Hex lengths of the digest algorithms the kubelet links in (crypto/sha256, crypto/sha512).
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidReference(ValueError):
    """A string is not a valid image reference; the message is the Go library's text."""


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A parsed, normalized image reference ("nginx" -> docker.io/library/nginx)."""

    domain: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        """Domain and path, without tag or digest: "docker.io/library/nginx".

        The domain is empty when the first component only looked like a host
        ("my_registry.local/app" has an underscore, so the whole name is a path).
        """
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def canonical(self) -> str:
        """The reference a container runtime reports once pulled, tag defaulted to latest.

        A reference with a digest keeps only the digest, as ParseDockerRef does.
        """
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return f"{self.repository}:{self.tag or DEFAULT_TAG}"


def parse_normalized_named(text: str) -> ImageReference:
    """Parse an image reference the way the kubelet does before pulling.

    Raises InvalidReference with the library's message ("invalid reference format",
    "invalid reference format: repository name (x) must be lowercase", ...).
    """
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidReference(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    return _parse(f"{domain}/{remainder}")


def invalid_image_message(image: str, error: InvalidReference) -> str:
    """Return the kubelet's InvalidImageName message for an image that failed to parse.

    Form of kubelet 1.27 and later (pkg/kubelet/images): the image is quoted with Go's
    %q, so invisible characters show as escapes such as \\u200b. Kubelets up to 1.26 said
    "couldn't parse image reference" in place of "couldn't parse image name".
    """
    quoted = go_quote(image)
    return (
        f"Failed to apply default image tag {quoted}: couldn't parse image name {quoted}: {error}"
    )


def go_quote(text: str) -> str:
    """Quote a string as Go's %q verb (strconv.Quote) does."""
    named = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t"}
    named |= {"\v": r"\v", "\\": "\\\\", '"': '\\"'}
    parts = ['"']
    for char in text:
        code = ord(char)
        if char in named:
            parts.append(named[char])
        elif char == " " or char.isprintable():
            parts.append(char)
        elif code < 0x80:
            parts.append(f"\\x{code:02x}")
        elif code < 0x10000:
            parts.append(f"\\u{code:04x}")
        else:
            parts.append(f"\\U{code:08x}")
    parts.append('"')
    return "".join(parts)


def _split_docker_domain(name: str) -> tuple[str, str]:
    if "/" not in name:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    maybe_domain, maybe_remote = name.split("/", 1)

    if maybe_domain == "localhost":
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain.lower() != maybe_domain:
        # Repository paths are lowercase, so an uppercase first element must be a host.
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name

    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def _parse(text: str) -> ImageReference:
    if not text:
        raise InvalidReference("repository name must have at least one component")
    match = _REFERENCE_RE.fullmatch(text)
    if match is None:
        lowered = text.lower()
        if lowered != text and _REFERENCE_RE.fullmatch(lowered):
            raise InvalidReference("repository name must be lowercase")
        raise InvalidReference("invalid reference format")

    name, tag, digest = match.group(1), match.group(2), match.group(3)
    name_match = _ANCHORED_NAME_RE.fullmatch(name)
    assert name_match is not None  # the name group matched the same pattern
    domain, path = name_match.group(1) or "", name_match.group(2)
    if len(path) > REPOSITORY_NAME_MAX:
        raise InvalidReference(
            f"repository name must not be more than {REPOSITORY_NAME_MAX} characters"
        )
    if digest:
        _validate_digest(digest)
    return ImageReference(domain=domain, path=path, tag=tag, digest=digest)


def _validate_digest(digest: str) -> None:
    # The checks and texts of github.com/opencontainers/go-digest Digest.Validate.
    algorithm, encoded = digest.split(":", 1)
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        raise InvalidReference("unsupported digest algorithm")
    if len(encoded) != length:
        raise InvalidReference("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidReference("invalid checksum digest format")

"""The reference table shared by the unit tests and the engine tests.

Each expectation was checked against the `docker` CLI 28 (distribution/reference v0.6, the grammar
imgtui follows) and the Docker Engine 20.10 the suite runs. Where 20.10's older grammar disagrees,
`legacy` holds what that engine says instead; `store` holds a refusal of the engine's tag store,
which is no grammar rule.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

H64 = "f" * 64
SHA256 = "sha256:" + hashlib.sha256(b"imgtui").hexdigest()
SHA384 = "sha384:" + hashlib.sha384(b"imgtui").hexdigest()
SHA512 = "sha512:" + hashlib.sha512(b"imgtui").hexdigest()

FORMAT = "invalid reference format"
UPPER = "repository name must be lowercase"
LEGACY_UPPER = f"{FORMAT}: {UPPER}"  # 20.10 does not name the repository
TOO_LONG = "repository name must not be more than 255 characters"
HEX64 = f"invalid repository name ({H64}), cannot specify 64-byte hexadecimal strings"
DIGEST_FORMAT = "invalid checksum digest format"
DIGEST_LENGTH = "invalid checksum digest length"
DIGEST_ALGORITHM = "unsupported digest algorithm"
AMBIGUOUS = "refusing to create an ambiguous tag using digest algorithm as name"
DIGEST_TAG = "refusing to create a tag with a digest reference"


def lower_error(repository: str) -> str:
    return f"{FORMAT}: repository name ({repository}) must be lowercase"


@dataclass(frozen=True)
class Case:
    text: str
    normalized: str | None = None  # str(parse_docker_ref(text)); None when refused
    familiar: str | None = None  # familiar(text)
    error: str | None = None  # ReferenceError.reason
    legacy: str | None = None  # what Engine 20.10 answers instead, when it differs
    store: str | None = None  # the engine's tag store refuses this name (any version)

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def has_digest(self) -> bool:
        return self.normalized is not None and "@" in self.normalized

    @property
    def id(self) -> str:
        text = self.text.encode("unicode_escape").decode()
        return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]}({len(self.text)})"


def ok(text: str, normalized: str, familiar: str, **kw: str) -> Case:
    return Case(text, normalized=normalized, familiar=familiar, **kw)


def bad(text: str, error: str, **kw: str) -> Case:
    return Case(text, error=error, **kw)


HUB = "docker.io/library/"

CASES: tuple[Case, ...] = (
    # Docker Hub: default domain, library/, default tag
    ok("busybox", f"{HUB}busybox:latest", "busybox:latest"),
    ok("busybox:1.36", f"{HUB}busybox:1.36", "busybox:1.36"),
    ok("library/busybox", f"{HUB}busybox:latest", "busybox:latest"),
    ok("docker.io/busybox", f"{HUB}busybox:latest", "busybox:latest"),
    ok("docker.io/library/busybox:glibc", f"{HUB}busybox:glibc", "busybox:glibc"),
    ok("index.docker.io/library/busybox", f"{HUB}busybox:latest", "busybox:latest"),
    ok("index.docker.io/org/app", "docker.io/org/app:latest", "org/app:latest"),
    ok("org/app", "docker.io/org/app:latest", "org/app:latest"),
    ok("org/team/app:v1", "docker.io/org/team/app:v1", "org/team/app:v1"),
    ok("docker.io/library/org/app", f"{HUB}org/app:latest", "library/org/app:latest"),
    ok(
        "registry-1.docker.io/org/app",
        "registry-1.docker.io/org/app:latest",
        "registry-1.docker.io/org/app:latest",
    ),
    ok("docker.io", f"{HUB}docker.io:latest", "docker.io:latest"),
    # other registries, ports, localhost, IP addresses
    ok("ghcr.io/org/app:1.0", "ghcr.io/org/app:1.0", "ghcr.io/org/app:1.0"),
    ok("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ok("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
    ok("localhost", f"{HUB}localhost:latest", "localhost:latest"),
    ok("localhost:5000", f"{HUB}localhost:5000", "localhost:5000"),  # 5000 is the tag
    ok("example.com:5000", f"{HUB}example.com:5000", "example.com:5000"),
    ok("127.0.0.1/app", "127.0.0.1/app:latest", "127.0.0.1/app:latest"),
    ok("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", "127.0.0.1:5000/app:latest"),
    ok("10.0.0.1:5000/org/app:tag", "10.0.0.1:5000/org/app:tag", "10.0.0.1:5000/org/app:tag"),
    ok(
        "my-registry.local:5000/org/app:1.0",
        "my-registry.local:5000/org/app:1.0",
        "my-registry.local:5000/org/app:1.0",
    ),
    ok("xn--n3h.com/app", "xn--n3h.com/app:latest", "xn--n3h.com/app:latest"),
    ok("a.b.c.d/e", "a.b.c.d/e:latest", "a.b.c.d/e:latest"),
    ok("localhost:99999/app", "localhost:99999/app:latest", "localhost:99999/app:latest"),
    # uppercase is fine in a domain and in a tag
    ok("EXAMPLE.COM/app", "EXAMPLE.COM/app:latest", "EXAMPLE.COM/app:latest"),
    ok("Foo:5000/bar", "Foo:5000/bar:latest", "Foo:5000/bar:latest"),
    ok("LOCALHOST:5000/app", "LOCALHOST:5000/app:latest", "LOCALHOST:5000/app:latest"),
    ok("busybox:Latest", f"{HUB}busybox:Latest", "busybox:Latest"),
    # an uppercase first part is a domain for the grammar, not yet for Engine 20.10
    ok("FOO/bar", "FOO/bar:latest", "FOO/bar:latest", legacy=LEGACY_UPPER),
    # IPv6 hosts: the current grammar has them, Engine 20.10 has not
    ok("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest", legacy=FORMAT),
    ok("[2001:db8::1]/app:v1", "[2001:db8::1]/app:v1", "[2001:db8::1]/app:v1", legacy=FORMAT),
    # a first part with "." that is no valid host: the whole name is the path, domain ""
    ok("ex_ample.com/app", "ex_ample.com/app:latest", "ex_ample.com/app:latest"),
    ok("a.b-c_d__e/f", "a.b-c_d__e/f:latest", "a.b-c_d__e/f:latest"),
    # separators
    ok("a_b", f"{HUB}a_b:latest", "a_b:latest"),
    ok("a__b", f"{HUB}a__b:latest", "a__b:latest"),
    ok("a.b", f"{HUB}a.b:latest", "a.b:latest"),
    ok("a-b", f"{HUB}a-b:latest", "a-b:latest"),
    ok("a---b/c.d_e", "docker.io/a---b/c.d_e:latest", "a---b/c.d_e:latest"),
    ok("0", f"{HUB}0:latest", "0:latest"),
    # names that look like ids or digests
    ok(f"org/{H64}", f"docker.io/org/{H64}:latest", f"org/{H64}:latest"),
    ok(f"{H64}:tag", f"{HUB}{H64}:tag", f"{H64}:tag"),
    ok(H64[:63], f"{HUB}{H64[:63]}:latest", f"{H64[:63]}:latest"),
    ok("sha256/x", "docker.io/sha256/x:latest", "sha256/x:latest"),
    ok("sha512:abc", f"{HUB}sha512:abc", "sha512:abc"),
    ok("sha256:abc", f"{HUB}sha256:abc", "sha256:abc", store=AMBIGUOUS),
    ok(f"sha256:{H64}", f"{HUB}sha256:{H64}", f"sha256:{H64}", store=AMBIGUOUS),
    # tags
    ok("busybox:_x", f"{HUB}busybox:_x", "busybox:_x"),
    ok("busybox:1.0-rc_2.x", f"{HUB}busybox:1.0-rc_2.x", "busybox:1.0-rc_2.x"),
    ok("busybox:" + "t" * 128, f"{HUB}busybox:" + "t" * 128, "busybox:" + "t" * 128),
    # the 255-character limit is on the path; Engine 20.10 counts the domain as well
    ok("a" * 237, f"{HUB}{'a' * 237}:latest", f"{'a' * 237}:latest"),
    ok("a" * 247, f"{HUB}{'a' * 247}:latest", f"{'a' * 247}:latest", legacy=TOO_LONG),
    ok(
        "x/" + "a" * 253,
        f"docker.io/x/{'a' * 253}:latest",
        f"x/{'a' * 253}:latest",
        legacy=TOO_LONG,
    ),
    ok(
        "ghcr.io/" + "a" * 255,
        f"ghcr.io/{'a' * 255}:latest",
        f"ghcr.io/{'a' * 255}:latest",
        legacy=TOO_LONG,
    ),
    # digests, alone and with a tag (docker keeps both)
    ok(f"busybox@{SHA256}", f"{HUB}busybox@{SHA256}", f"busybox@{SHA256}"),
    ok(f"busybox:1.36@{SHA256}", f"{HUB}busybox:1.36@{SHA256}", f"busybox:1.36@{SHA256}"),
    ok(
        f"localhost:5000/app@{SHA256}",
        f"localhost:5000/app@{SHA256}",
        f"localhost:5000/app@{SHA256}",
    ),
    ok(f"busybox@{SHA384}", f"{HUB}busybox@{SHA384}", f"busybox@{SHA384}"),
    ok(f"org/app:v1@{SHA512}", f"docker.io/org/app:v1@{SHA512}", f"org/app:v1@{SHA512}"),
    # empty parts and whitespace
    bad("", FORMAT),
    bad(" ", FORMAT),
    bad(" busybox", FORMAT),
    bad("busybox ", FORMAT),
    bad("busybox\t", FORMAT),
    bad("busybox\n", FORMAT),
    bad("bus box", FORMAT),
    bad(":tag", FORMAT),
    bad("busybox:", FORMAT),
    bad("@", FORMAT),
    bad(":", FORMAT),
    bad("/", FORMAT),
    bad(f"@{SHA256}", FORMAT),
    bad("a/", FORMAT),
    bad("/a", FORMAT),
    bad("a//b", FORMAT),
    # uppercase in the repository name
    bad("Busybox", lower_error("library/Busybox"), legacy=LEGACY_UPPER),
    bad("library/Busybox", lower_error("library/Busybox"), legacy=LEGACY_UPPER),
    bad("org/App:v1", lower_error("org/App"), legacy=LEGACY_UPPER),
    bad("localhost/App", lower_error("App"), legacy=LEGACY_UPPER),
    bad("ghcr.io/Org/app", lower_error("Org/app"), legacy=LEGACY_UPPER),
    bad("docker.io/Library/x", lower_error("Library/x"), legacy=LEGACY_UPPER),
    bad(f"busybox@SHA256:{H64}", lower_error("library/busybox@SHA256"), legacy=LEGACY_UPPER),
    bad("Foo_Bar/x", UPPER, legacy=LEGACY_UPPER),
    bad("FOO_BAR.com/x", UPPER),
    bad("\u0130.com/app", UPPER),  # Go lowers the dotted capital I to a plain "i"
    bad("\u212a.com/app", UPPER),  # and the Kelvin sign to "k"
    bad("\u0130/app", UPPER, legacy=LEGACY_UPPER),  # an uppercase first part: a host
    # separators misplaced
    bad("a..b", FORMAT),
    bad("a___b", FORMAT),
    bad("a.-b", FORMAT),
    bad("a_.b", FORMAT),
    bad("_a", FORMAT),
    bad("a_", FORMAT),
    bad("-a", FORMAT),
    bad("a-", FORMAT),
    bad(".a", FORMAT),
    bad("a/b.", FORMAT),
    bad("a/_b", FORMAT),
    # hosts and ports
    bad("-foo.com/x", FORMAT),
    bad("foo-.com/x", FORMAT),
    bad("foo.com./x", FORMAT),
    bad("foo.com:abc/bar", FORMAT),
    bad("foo.com:/bar", FORMAT),
    bad("foo.com:5000:6000/x", FORMAT),
    bad("a_b.com:5000/x", FORMAT),
    bad("[::1]", FORMAT),
    bad("[0]/app", FORMAT),  # brackets without ":" make no host, and no namespace either
    bad("[::1]:5000", FORMAT),
    bad("[fe80::1%eth0]:5000/app", FORMAT),
    # non-ASCII
    bad("ä", FORMAT),
    bad("org/ä", FORMAT),
    bad("busybox:ä", FORMAT),
    # tags
    bad("busybox:" + "t" * 129, FORMAT),
    bad("busybox:-x", FORMAT),
    bad("busybox:.x", FORMAT),
    bad("busybox:a:b", FORMAT),
    bad("busybox:ta g", FORMAT),
    # 64-hex names and length
    bad(H64, HEX64),
    bad("a" * 248, TOO_LONG),
    bad("x/" + "a" * 254, TOO_LONG),
    bad("a/" * 128 + "a", TOO_LONG),
    # bad digests
    bad("a@b", FORMAT),
    bad("busybox@sha256:" + "f" * 31, FORMAT),
    bad("busybox@sha256:" + "f" * 32, DIGEST_LENGTH),
    bad("busybox@sha256:" + "f" * 63, DIGEST_LENGTH),
    bad("busybox@sha256:" + "f" * 65, DIGEST_LENGTH),
    bad("busybox@sha256:" + "F" * 64, DIGEST_FORMAT),
    bad(f"busybox:t@SHA256:{H64}", DIGEST_FORMAT),
    bad(f"busybox@md5:{H64[:32]}", DIGEST_ALGORITHM),
    bad(f"busybox@sha256+b64:{H64}", DIGEST_ALGORITHM),
    bad(f"busybox@blake3:{H64}", DIGEST_ALGORITHM),
    bad(f"busybox@{SHA256}@{SHA256}", FORMAT),
    bad(f"busybox@{SHA256}:tag", FORMAT),
)


# (pattern, reference, whether docker's FamiliarMatch matches)
MATCHES: list[tuple[str, str, bool]] = [
    ("busybox", "busybox:latest", True),  # the familiar name alone matches
    ("busybox:latest", "busybox:latest", True),
    ("busybox:1", "busybox:latest", False),
    ("busy*", "busybox:latest", True),
    ("busybox:*", "busybox:latest", True),
    ("*", "busybox:latest", True),
    ("*", "org/app:latest", False),  # * never crosses "/"
    ("*/*", "org/app:latest", True),
    ("*/*", "busybox:latest", False),
    ("library/busybox", "busybox:latest", False),  # docker matches the familiar form only
    ("docker.io/library/busybox", "busybox:latest", False),
    ("org/app", "docker.io/org/app:v1", True),
    ("org/app:v?", "docker.io/org/app:v1", True),
    ("org/app:v[0-9]", "org/app:v1", True),
    ("org/app:v[^0-9]", "org/app:v1", False),
    ("org/app:v[!0-9]", "org/app:v1", True),  # Go knows only ^ for negation: "!" is a member
    ("localhost:5000/*", "localhost:5000/app:1", True),
    ("*/app", "localhost:5000/app:1", True),
    ("*:5000/app", "localhost:5000/app:1", True),
    ("foo/**/ba[rz]", "foo/a/bar", True),
    ("foo/**/ba[rz]", "foo/c/baz:tag", True),
    ("foo/**/ba[rz]", "foo/any/bat", False),
    ("foo/**/ba[rz]", "foo", False),
    ("*/foo/c/baz", "example.com/foo/c/baz:tag", True),
    (r"busy\box", "busybox:latest", True),
    ("busybox?latest", "busybox:latest", True),
    ("busybox@*", f"busybox@{SHA256}", True),
    ("busybox", f"busybox@{SHA256}", True),
    ("busybox:*", f"busybox@{SHA256}", False),
    ("", "busybox:latest", False),
    # Go's path.Match settles each chunk at its first fit: the regular expression
    # "[^/]*[a/][a/][^/]*b" would match, Go's matcher (and so docker) does not.
    ("*[a/][a/]*b", "aa/ab", False),
    ("*[a/][a/]*b", "a/ab", True),
]

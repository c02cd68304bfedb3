"""images(): one summary per image, all its tags, filters, and listing while images go away."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from imgtui.backends.base import Backend, ImageFilter, ImageNotFound, ImageSummary
from tests.contract.archives import NONCE_LABEL
from tests.contract.harness import Harness
from tests.contract.helpers import (
    IMAGE_ID,
    assert_aware,
    assert_same_second,
    assert_user_message,
    build,
    by_id,
    ids,
)

pytestmark = pytest.mark.engine

OLD = datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
NEWER = datetime(2002, 2, 3, 4, 5, 6, tzinfo=timezone.utc)


def mine(backend: Backend, harness: Harness, f: ImageFilter | None = None) -> set[str]:
    """Ids listed under the test's repository (the engine is shared with other tests)."""
    refs = (harness.repo,)
    if f is None:
        f = ImageFilter(references=refs)
    else:
        f = ImageFilter(
            dangling=f.dangling,
            labels=f.labels,
            references=f.references or refs,
            before=f.before,
            since=f.since,
            until=f.until,
        )
    return ids(backend.images(filters=f))


def test_backend_satisfies_the_protocol(harness: Harness, backend: Backend) -> None:
    assert isinstance(backend, Backend)
    assert backend.name == harness.kind


def test_one_summary_per_image_with_all_its_tags(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("one", "two", "three"))
    listed = by_id(backend.images(), img.id)
    assert len(listed) == 1, listed
    s = listed[0]
    assert isinstance(s, ImageSummary)
    assert IMAGE_ID.match(s.id)
    assert sorted(s.repo_tags) == sorted(img.refs)
    assert not s.dangling
    assert s.short_id == img.id.removeprefix("sha256:")[:12]
    assert_aware(s.created)
    assert_same_second(s.created, img.created)
    assert s.size > 0
    assert s.size == backend.inspect(img.id).size
    assert s.labels.get(NONCE_LABEL) == img.config["config"]["Labels"][NONCE_LABEL]


def test_images_lists_dangling_images_by_default(harness: Harness, backend: Backend) -> None:
    dangling = harness.put("layered", tags=())
    [s] = by_id(backend.images(), dangling.id)
    assert s.repo_tags == ()
    assert s.dangling


@pytest.mark.needs("build")
@pytest.mark.needs("intermediate-images")
def test_all_shows_intermediate_images(harness: Harness, backend: Backend, tmp_path) -> None:
    harness.ensure_base()
    _, result = build(
        backend,
        tmp_path / "ctx",
        "FROM imgtui-test/busybox:latest\nRUN echo one > /one\nRUN echo two > /two\n",
        tags=[harness.ref("built")],
    )
    parent = backend.inspect(result.image_id).parent_id
    assert parent, "a build step's parent image must be recorded"
    assert result.image_id in ids(backend.images())
    assert parent not in ids(backend.images()), "intermediate images are hidden by default"
    assert parent in ids(backend.images(all=True))
    [p] = by_id(backend.images(all=True), parent)
    assert p.repo_tags == ()


def test_dangling_filter(harness: Harness, backend: Backend) -> None:
    dangling = harness.put("layered", tags=())
    tagged = harness.put("layered", tags=("kept",))

    only_dangling = backend.images(filters=ImageFilter(dangling=True))
    assert dangling.id in ids(only_dangling)
    assert tagged.id not in ids(only_dangling)
    assert all(not i.repo_tags for i in only_dangling)

    not_dangling = backend.images(filters=ImageFilter(dangling=False))
    assert tagged.id in ids(not_dangling)
    assert dangling.id not in ids(not_dangling)
    assert all(i.repo_tags for i in not_dangling)


def test_tagging_over_a_tag_leaves_the_old_image_dangling(
    harness: Harness, backend: Backend
) -> None:
    old = harness.put("layered", tags=("moving",))
    new = harness.put("layered", tags=("other",))
    backend.tag(new.id, harness.ref("moving"))
    assert old.id in ids(backend.images(filters=ImageFilter(dangling=True)))
    [s] = by_id(backend.images(), new.id)
    assert sorted(s.repo_tags) == sorted([harness.ref("moving"), harness.ref("other")])


def test_label_filter(harness: Harness, backend: Backend) -> None:
    configured = harness.put("configured", tags=("c",))
    layered = harness.put("layered", tags=("l",))

    def labelled(*labels: str) -> set[str]:
        return mine(backend, harness, ImageFilter(labels=labels))

    assert labelled("org.example.role") == {configured.id}
    assert labelled("org.example.role=contract-test") == {configured.id}
    assert labelled("org.example.role=contract-test", "org.example.version=1.2") == {configured.id}
    assert labelled("org.example.role=other") == set()
    assert labelled("org.example.role", "no.such.label") == set()
    nonce = layered.config["config"]["Labels"][NONCE_LABEL]
    # Without a reference filter too: a label unique to one image finds just that image.
    only = backend.images(filters=ImageFilter(labels=(f"{NONCE_LABEL}={nonce}",)))
    assert ids(only) == {layered.id}


def test_reference_filter(harness: Harness, backend: Backend) -> None:
    a = harness.put("layered", tags=("alpha", "beta"))
    b = harness.put("configured", tags=("gamma",))

    def referenced(*patterns: str) -> set[str]:
        return ids(backend.images(filters=ImageFilter(references=patterns)))

    assert referenced(harness.repo) == {a.id, b.id}
    assert referenced(f"{harness.repo}:gamma") == {b.id}
    assert referenced(f"{harness.repo}:a*") == {a.id}
    assert referenced(f"{harness.repo}:*a") == {a.id, b.id}
    assert referenced(f"{harness.repo}:nope") == set()
    assert referenced(f"{harness.repo}-nope") == set()


def test_reference_and_label_filters_combine(harness: Harness, backend: Backend) -> None:
    configured = harness.put("configured", tags=("c",))
    harness.put("layered", tags=("l",))
    f = ImageFilter(references=(harness.repo,), labels=("org.example.role",))
    assert ids(backend.images(filters=f)) == {configured.id}
    f = ImageFilter(references=(harness.repo,), dangling=False)
    assert configured.id in ids(backend.images(filters=f))


def test_before_and_since_filters(harness: Harness, backend: Backend) -> None:
    old = harness.put("layered", tags=("old",), created=OLD)
    newer = harness.put("layered", tags=("newer",), created=NEWER)
    assert mine(backend, harness, ImageFilter(since=old.ref)) == {newer.id}
    assert mine(backend, harness, ImageFilter(before=newer.ref)) == {old.id}
    assert mine(backend, harness, ImageFilter(before=old.ref)) == set()


def test_until_filter(harness: Harness, backend: Backend) -> None:
    old = harness.put("layered", tags=("old",), created=OLD)
    harness.put("layered", tags=("newer",), created=NEWER)
    assert mine(backend, harness, ImageFilter(until="2001-06-01T00:00:00Z")) == {old.id}


def test_before_an_unknown_image_is_not_found(harness: Harness, backend: Backend) -> None:
    missing = f"{harness.repo}:missing"
    with pytest.raises(ImageNotFound) as e:
        backend.images(filters=ImageFilter(before=missing))
    assert_user_message(e.value, missing)


def test_listing_survives_concurrent_removal(harness: Harness, backend: Backend) -> None:
    victims = [harness.put("layered", tags=(f"v{n}",), extra_layer=True) for n in range(6)]
    errors: list[BaseException] = []

    def remove_all() -> None:
        try:
            for v in victims:
                backend.remove(v.id, force=True)
        except BaseException as e:
            errors.append(e)

    listings = 0
    remover = threading.Thread(target=remove_all)
    remover.start()
    while remover.is_alive() or listings < 3:
        backend.images()
        backend.images(all=True)
        listings += 1
    remover.join()
    assert not errors, errors
    listed = ids(backend.images(all=True))
    assert not listed & {v.id for v in victims}

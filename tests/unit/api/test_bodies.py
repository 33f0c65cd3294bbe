"""read_body on real Starlette requests: the size limit holds while streaming, for plain and gzip
bodies, and the body is never buffered whole."""

from __future__ import annotations

import asyncio
import gzip
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pytest
from starlette.requests import Request

from devsignal_pipelines.api.bodies import BodyTooLarge, BodyUnreadable, read_body

KB = 1024
MB = 1024 * KB
CHUNK = 64 * KB
LIMIT = 500 * KB


@dataclass
class Upload:
    """An ASGI request whose body arrives in chunks; counts the chunks the app pulled."""

    chunks: Iterable[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    pulled: int = 0

    def __post_init__(self) -> None:
        self._chunks: Iterator[bytes] = iter(self.chunks)

    async def receive(self) -> dict:
        chunk = next(self._chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        self.pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    def request(self) -> Request:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/batch",
            "raw_path": b"/v1/batch",
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in self.headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        return Request(scope, self.receive)

    def read(self, limit: int = LIMIT) -> bytes:
        return asyncio.run(read_body(self.request(), limit))


def repeated(block: bytes, total: int) -> Iterator[bytes]:
    """`total` bytes as repeats of `block`, generated lazily: nothing the size of the body exists."""
    for _ in range(total // len(block)):
        yield block


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def gzipped(data: bytes, chunk: int = CHUNK) -> Upload:
    return Upload(split(gzip.compress(data), chunk), {"content-encoding": "gzip"})


# --- plain bodies -----------------------------------------------------------------------------


def test_a_small_body_is_read_whole() -> None:
    upload = Upload([b'{"batch": ', b"[]}"], {"content-type": "application/json"})
    assert upload.read() == b'{"batch": []}'
    assert upload.pulled == 2


def test_a_100_mb_body_is_refused_while_streaming_after_about_limit_over_chunk_chunks() -> None:
    upload = Upload(repeated(b"x" * CHUNK, 100 * MB))
    with pytest.raises(BodyTooLarge) as exc:
        upload.read(LIMIT)
    assert exc.value.limit == LIMIT
    # 500 KB / 64 KB = 7.8: the 8th chunk crosses the limit; never the 1,600 chunks of the body
    assert upload.pulled <= LIMIT // CHUNK + 1
    assert upload.pulled >= LIMIT // CHUNK


def test_a_lying_content_length_does_not_get_past_the_streaming_limit() -> None:
    upload = Upload(repeated(b"x" * CHUNK, 100 * MB), {"content-length": "10"})
    with pytest.raises(BodyTooLarge):
        upload.read(LIMIT)
    assert upload.pulled <= LIMIT // CHUNK + 1


def test_a_content_length_over_the_limit_is_refused_before_any_chunk_is_read() -> None:
    upload = Upload(repeated(b"x" * CHUNK, 100 * MB), {"content-length": str(100 * MB)})
    with pytest.raises(BodyTooLarge):
        upload.read(LIMIT)
    assert upload.pulled == 0


def test_a_body_of_exactly_the_limit_is_accepted_and_one_byte_more_is_refused() -> None:
    assert Upload(split(b"y" * LIMIT, CHUNK)).read(LIMIT) == b"y" * LIMIT
    with pytest.raises(BodyTooLarge):
        Upload(split(b"y" * (LIMIT + 1), CHUNK)).read(LIMIT)
    assert Upload([b"y" * LIMIT], {"content-length": str(LIMIT)}).read(LIMIT) == b"y" * LIMIT


def test_the_error_says_the_limit_in_kb() -> None:
    with pytest.raises(BodyTooLarge, match="500 KB"):
        Upload([b"x" * (LIMIT + 1)]).read(LIMIT)


@pytest.mark.parametrize("encoding", ["identity", "", "IDENTITY "])
def test_identity_encoding_is_read_as_is(encoding: str) -> None:
    assert Upload([b"abc"], {"content-encoding": encoding}).read() == b"abc"


# --- gzip -------------------------------------------------------------------------------------


def test_a_gzip_body_is_inflated() -> None:
    payload = b'{"batch": [' + b'{"type": "track"},' * 2000 + b"{}]}"
    upload = gzipped(payload, chunk=1 * KB)
    assert upload.read() == payload


def test_a_gzip_body_arriving_in_tiny_chunks_is_inflated() -> None:
    payload = os.urandom(3000).hex().encode()
    assert gzipped(payload, chunk=7).read() == payload


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", " gzip "])
def test_the_gzip_encoding_name_is_case_and_space_insensitive(encoding: str) -> None:
    upload = Upload([gzip.compress(b"hello")], {"content-encoding": encoding})
    assert upload.read() == b"hello"


def test_a_gzip_body_inflating_to_exactly_the_limit_is_accepted_and_one_byte_more_is_not() -> None:
    assert gzipped(b"z" * LIMIT).read(LIMIT) == b"z" * LIMIT
    with pytest.raises(BodyTooLarge):
        gzipped(b"z" * (LIMIT + 1)).read(LIMIT)


def test_a_gzip_bomb_is_refused_by_the_decompressed_limit() -> None:
    bomb = gzip.compress(bytes(50 * MB))
    assert len(bomb) < LIMIT  # small on the wire: only the inflated size can refuse it
    upload = Upload(split(bomb, 1 * KB), {"content-encoding": "gzip"})
    with pytest.raises(BodyTooLarge):
        upload.read(LIMIT)
    assert upload.pulled <= 2  # 1 KB of deflated zeros is already about 1 MB inflated


def test_a_gzip_bomb_under_a_small_content_length_is_still_refused() -> None:
    bomb = gzip.compress(bytes(50 * MB))
    upload = Upload([bomb], {"content-encoding": "gzip", "content-length": str(len(bomb))})
    with pytest.raises(BodyTooLarge):
        upload.read(LIMIT)


@pytest.mark.parametrize(
    "body",
    [
        b"this is not gzip at all",
        gzip.compress(b"x" * 1000)[:10] + b"\xff" * 20,
        gzip.compress(b'{"a": 1}' * 100)[:-8] + b"\x00" * 8,  # wrong CRC and length
    ],
    ids=["not-gzip", "garbled-deflate", "bad-crc"],
)
def test_a_corrupt_gzip_body_is_unreadable(body: bytes) -> None:
    with pytest.raises(BodyUnreadable, match="corrupt"):
        Upload([body], {"content-encoding": "gzip"}).read()


def test_a_truncated_gzip_body_is_unreadable() -> None:
    payload = b'{"a": 1}' * 1000
    truncated = gzip.compress(payload)[:-20]
    with pytest.raises(BodyUnreadable):
        Upload([truncated], {"content-encoding": "gzip"}).read()


def test_every_member_of_a_multi_member_gzip_body_is_inflated() -> None:
    body = gzip.compress(b'{"batch": [') + gzip.compress(b"]}")
    assert Upload([body], {"content-encoding": "gzip"}).read() == b'{"batch": []}'


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "zstd", "gzip, br"])
def test_an_unknown_content_encoding_is_unreadable_before_any_chunk_is_read(encoding: str) -> None:
    upload = Upload([b"abc"], {"content-encoding": encoding})
    with pytest.raises(BodyUnreadable, match="not supported"):
        upload.read()
    assert upload.pulled == 0

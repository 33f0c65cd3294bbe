"""Request bodies read with a size limit that holds while streaming, before anything is buffered
whole: a 100 MB upload costs at most `limit` bytes of memory, gzip bombs included."""

from __future__ import annotations

import zlib

from starlette.requests import Request


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"body larger than {limit // 1024} KB")
        self.limit = limit


class BodyUnreadable(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed when `Content-Encoding: gzip`, at most `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise BodyUnreadable(f"Content-Encoding {encoding!r} is not supported; send gzip or none")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            if inflate is not None:
                chunk = inflate.decompress(chunk, limit + 1 - size)
                if inflate.unconsumed_tail:
                    raise BodyTooLarge(limit)
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
        if inflate is not None:
            tail = inflate.flush()
            size += len(tail)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(tail)
    except zlib.error as exc:
        raise BodyUnreadable(f"the gzip body is corrupt ({exc})") from None
    return b"".join(chunks)

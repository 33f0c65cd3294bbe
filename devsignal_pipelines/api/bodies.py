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
    body = _Inflated(limit) if encoding == "gzip" else _Plain(limit)
    try:
        async for chunk in request.stream():
            body.add(chunk)
        return body.finish()
    except zlib.error as exc:
        raise BodyUnreadable(f"the gzip body is corrupt ({exc})") from None


class _Plain:
    def __init__(self, limit: int):
        self.limit, self.size, self.chunks = limit, 0, []

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise BodyTooLarge(self.limit)
        self.chunks.append(chunk)

    def finish(self) -> bytes:
        return b"".join(self.chunks)


class _Inflated(_Plain):
    """gzip inflated as it arrives, never past the limit; every member of a multi-member body
    (RFC 1952), and a body cut short is refused rather than taken for its prefix."""

    def __init__(self, limit: int):
        super().__init__(limit)
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def add(self, chunk: bytes) -> None:
        while chunk:
            out = self.inflate.decompress(chunk, self.limit + 1 - self.size)
            if self.inflate.unconsumed_tail:
                raise BodyTooLarge(self.limit)
            super().add(out)
            chunk = self.inflate.unused_data if self.inflate.eof else b""
            if chunk:  # the next gzip member starts here
                self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def finish(self) -> bytes:
        super().add(self.inflate.flush())
        if not self.inflate.eof:
            raise BodyUnreadable("the gzip body ends before its end of stream (truncated)")
        return super().finish()

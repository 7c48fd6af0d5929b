"""The request size limit for bodies that do not say their length (Transfer-Encoding: chunked).

Werkzeug refuses a Content-Length over MAX_CONTENT_LENGTH with 413. A chunked body has no
Content-Length: a server that removes the chunking (gunicorn, werkzeug's own) sets
`wsgi.input_terminated`, and werkzeug then reads such a body up to MAX_CONTENT_LENGTH and stops
there (`LimitedStream.readall`), so a longer body was cut short and handled as if whole. Here the
stream looks one byte past the limit: more data is a 413, on every route, like a long Content-Length.
"""
from __future__ import annotations

import typing as t

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


class WholeOrRefused(LimitedStream):
    """A body without Content-Length, read to its end if that is within the limit, else a 413."""

    def on_exhausted(self) -> None:
        """At the limit: the end of the body, or a 413 if more follows."""
        if self._stream.read(1):
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        """The whole body (werkzeug's version stops at the limit without looking further)."""
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class BoundedRequest(Request):
    """Flask's request whose body stream enforces MAX_CONTENT_LENGTH on chunked bodies too."""

    @cached_property
    def stream(self) -> t.IO[bytes]:
        """The body stream, limited (see the module's docstring)."""
        limit = self.max_content_length
        if limit is not None and self.content_length is None and "wsgi.input_terminated" in self.environ \
                and not self.shallow:
            return t.cast(t.IO[bytes], WholeOrRefused(self.environ["wsgi.input"], limit, is_max=True))
        return super().stream

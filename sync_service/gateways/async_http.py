"""The dispatcher's HTTP transport: libcurl's multi interface (pycurl) driven by the asyncio event loop.

It carries what :meth:`HttpGateway.prepare` builds and hands the answer to
:meth:`HttpGateway.answered`, so a message is encoded and its answer classified exactly as by the
``requests`` transport (``HttpGateway.send``); only the wire code differs. Like ``send``,
:meth:`AsyncHttpTransport.send` never raises for a provider or network problem: libcurl's error
codes are classified by :func:`classify_curl_error` (timeouts and connection errors retry).

Why libcurl: HTTP, TLS and socket work happen in C, and a request costs ~0.09 ms of CPU in this
process against ~0.21 ms with aiohttp, the transport before it (measured against the simulator,
requests prepared by the gateway, uvloop); the dispatcher's throughput in one process is bound by
its Python time per message (``bench/bench_dispatcher.py``).

One ``CurlMulti`` per transport, i.e. per event loop: libcurl keeps the connection pool (keep-alive,
TLS sessions) in it, shared by every gateway, at most ``pool_size`` connections per host. The multi
tells the loop which sockets to watch (``M_SOCKETFUNCTION`` -> ``add_reader``/``add_writer``) and when
to wake it (``M_TIMERFUNCTION`` -> ``call_later``); the loop calls ``socket_action`` back. Per request,
the gateway's options: its connect timeout, its read timeout as the bound of the whole call (libcurl
has no per-read timeout finer than a second; connecting is part of it), its proxy (the one
the environment names for its base URL, read once; libcurl's own environment lookup is switched off),
its CA bundle (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, else certifi's, as for ``requests``).
A transport belongs to one event loop: create, use and :meth:`close` it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from dataclasses import dataclass, field

import certifi
import pycurl

from sync_service.core.errors import Classification, FailureKind, classify_exception
from sync_service.gateways.base import HttpAnswer, HttpGateway, OutboundMessage, SendResult

MAX_CONNECTIONS = 256  # libcurl's connection cache, all hosts together

_TLS_ERRORS = frozenset({
    pycurl.E_SSL_CONNECT_ERROR, pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CACERT,
    pycurl.E_SSL_CACERT_BADFILE, pycurl.E_SSL_CERTPROBLEM, pycurl.E_SSL_CIPHER,
    pycurl.E_SSL_ISSUER_ERROR, pycurl.E_SSL_PINNEDPUBKEYNOTMATCH, pycurl.E_SSL_INVALIDCERTSTATUS,
    pycurl.E_SSL_ENGINE_NOTFOUND, pycurl.E_SSL_ENGINE_SETFAILED, pycurl.E_SSL_ENGINE_INITFAILED,
    pycurl.E_SSL_CRL_BADFILE, pycurl.E_SSL_SHUTDOWN_FAILED,
})
_DNS_ERRORS = frozenset({pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_RESOLVE_PROXY})
_CONNECTION_ERRORS = frozenset({
    pycurl.E_COULDNT_CONNECT, pycurl.E_SEND_ERROR, pycurl.E_RECV_ERROR, pycurl.E_GOT_NOTHING,
    pycurl.E_PARTIAL_FILE, pycurl.E_ABORTED_BY_CALLBACK,  # the last: the transport closed mid-request
})
_CONFIGURATION_ERRORS = frozenset({
    pycurl.E_URL_MALFORMAT, pycurl.E_UNSUPPORTED_PROTOCOL, pycurl.E_BAD_FUNCTION_ARGUMENT,
})


def classify_curl_error(code: int) -> Classification:
    """Map a libcurl error code (``CURLE_*``) to a classification, as for ``requests`` (pure)."""
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return classify_exception(FailureKind.TIMEOUT)
    if code in _TLS_ERRORS:
        return classify_exception(FailureKind.TLS)
    if code in _DNS_ERRORS:
        return classify_exception(FailureKind.DNS)
    if code in _CONNECTION_ERRORS:
        return classify_exception(FailureKind.CONNECTION)
    if code in _CONFIGURATION_ERRORS:
        return classify_exception("configuration")
    return classify_exception(FailureKind.PROTOCOL)


@dataclass(eq=False)
class _Transfer:
    """One request in libcurl's hands: the future its coroutine awaits, what came back so far."""

    future: asyncio.Future[tuple[int, bytes, str | None] | int]
    body: io.BytesIO = field(default_factory=io.BytesIO)
    retry_after: str | None = None

    def header(self, line: bytes) -> None:
        if line[:12].lower() == b"retry-after:":
            self.retry_after = line[12:].strip().decode("latin-1")


class AsyncHttpTransport:
    """Sends through HTTP gateways with libcurl on the running event loop; see the module docstring."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._multi: pycurl.CurlMulti | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._watched: dict[int, int] = {}  # socket -> pycurl.POLL_* it is watched for
        self._transfers: dict[pycurl.Curl, _Transfer] = {}
        self._idle: list[pycurl.Curl] = []
        self._per_host = 1

    async def send(self, gateway: HttpGateway, message: OutboundMessage) -> SendResult:
        """Submit ``message`` through ``gateway``'s account; never raises for provider or network problems."""
        prepared = gateway.prepare(message)
        if not prepared.url.lower().startswith(("http://", "https://")):  # libcurl would guess a scheme
            return gateway.unanswered(prepared, message, classify_exception("configuration"))
        multi = self._ensure()
        if gateway.options.pool_size > self._per_host:  # the largest pool of the gateways seen so far
            self._per_host = gateway.options.pool_size
            multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, self._per_host)
        handle = self._idle.pop() if self._idle else pycurl.Curl()
        transfer = _Transfer(self._loop.create_future())  # type: ignore[union-attr]
        options = gateway.options
        try:
            handle.setopt(pycurl.URL, prepared.url)
            handle.setopt(pycurl.POSTFIELDS, prepared.body)
            handle.setopt(pycurl.HTTPHEADER, [f"{name}: {value}" for name, value in prepared.headers.items()]
                          + ["Expect:"])  # no 100-continue round trip for larger bodies
            handle.setopt(pycurl.WRITEDATA, transfer.body)
            handle.setopt(pycurl.HEADERFUNCTION, transfer.header)
            handle.setopt(pycurl.CONNECTTIMEOUT_MS, int(options.connect_timeout * 1000))
            handle.setopt(pycurl.TIMEOUT_MS, int(options.read_timeout * 1000))
            handle.setopt(pycurl.PROXY, gateway.proxy or "")  # "": no proxy, whatever the environment says
            handle.setopt(pycurl.CAINFO, gateway.ca_bundle or certifi.where())
            handle.setopt(pycurl.NOSIGNAL, 1)
            multi.add_handle(handle)
        except pycurl.error as exc:  # an option libcurl refuses (e.g. a URL it cannot take)
            self._idle.append(handle)
            return gateway.unanswered(prepared, message, classify_curl_error(exc.args[0]))
        self._transfers[handle] = transfer
        try:
            outcome = await transfer.future
        except asyncio.CancelledError:
            self._finish(handle)
            raise
        if isinstance(outcome, int):
            return gateway.unanswered(prepared, message, classify_curl_error(outcome))
        status, body, retry_after = outcome
        return gateway.answered(prepared, message, HttpAnswer(status, body, retry_after))

    async def close(self) -> None:
        """Abort what is in flight (its coroutines get a connection error), free the pool."""
        for handle, transfer in list(self._transfers.items()):
            self._finish(handle)
            if not transfer.future.done():
                transfer.future.set_result(pycurl.E_ABORTED_BY_CALLBACK)
        for fd in list(self._watched):
            self._watch(fd, pycurl.POLL_REMOVE)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for handle in self._idle:
            handle.close()
        self._idle = []
        if self._multi is not None:
            self._multi.close()
            self._multi = None

    # ------------------------------------------------------------------ libcurl <-> event loop

    def _ensure(self) -> pycurl.CurlMulti:
        if self._multi is None:
            self._loop = asyncio.get_running_loop()
            multi = pycurl.CurlMulti()
            multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
            multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
            multi.setopt(pycurl.M_MAXCONNECTS, MAX_CONNECTIONS)
            multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, self._per_host)
            self._multi = multi
        return self._multi

    def _on_socket(self, what: int, fd: int, multi: object, data: object) -> None:
        """libcurl: watch ``fd`` for ``what`` (POLL_IN, POLL_OUT, POLL_INOUT) or stop (POLL_REMOVE)."""
        self._watch(fd, what)

    def _watch(self, fd: int, what: int) -> None:
        loop = self._loop
        assert loop is not None
        before = self._watched.get(fd, pycurl.POLL_NONE)
        wants_in = what in (pycurl.POLL_IN, pycurl.POLL_INOUT)
        wants_out = what in (pycurl.POLL_OUT, pycurl.POLL_INOUT)
        if wants_in != (before in (pycurl.POLL_IN, pycurl.POLL_INOUT)):
            if wants_in:
                loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
            else:
                loop.remove_reader(fd)
        if wants_out != (before in (pycurl.POLL_OUT, pycurl.POLL_INOUT)):
            if wants_out:
                loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)
            else:
                loop.remove_writer(fd)
        if wants_in or wants_out:
            self._watched[fd] = what
        else:
            self._watched.pop(fd, None)

    def _on_timer(self, timeout_ms: int) -> None:
        """libcurl: call ``socket_action(SOCKET_TIMEOUT)`` in ``timeout_ms`` (-1: no timer)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout_ms >= 0 and self._loop is not None:
            self._timer = self._loop.call_later(timeout_ms / 1000.0, self._act, pycurl.SOCKET_TIMEOUT, 0)

    def _act(self, fd: int, event: int) -> None:
        multi = self._multi
        if multi is None:
            return
        while multi.socket_action(fd, event)[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, succeeded, failed = multi.info_read()
            for handle in succeeded:
                transfer = self._finish(handle)
                if transfer is not None and not transfer.future.done():
                    status = handle.getinfo(pycurl.RESPONSE_CODE)
                    transfer.future.set_result((status, transfer.body.getvalue(), transfer.retry_after))
            for handle, code, _message in failed:
                transfer = self._finish(handle)
                if transfer is not None and not transfer.future.done():
                    transfer.future.set_result(code)
            if not queued:
                return

    def _finish(self, handle: pycurl.Curl) -> _Transfer | None:
        """Take ``handle`` out of the multi (its connection stays in the pool) and back to the idle ones."""
        transfer = self._transfers.pop(handle, None)
        if self._multi is not None:
            with contextlib.suppress(pycurl.error):  # not in it (any more)
                self._multi.remove_handle(handle)
        self._idle.append(handle)  # its options are all set again by the next send
        return transfer

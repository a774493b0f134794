"""The aiohttp transport of the HTTP gateways: the dispatcher's send path, on one event loop.

It carries what :meth:`HttpGateway.prepare` builds and hands the answer to
:meth:`HttpGateway.answered`, so a message is encoded and its answer classified exactly as by the
``requests`` transport (``HttpGateway.send``); only the wire code differs. Like ``send``,
:meth:`AsyncHttpTransport.send` never raises for a provider or network problem: transport errors
are classified by :func:`classify_aiohttp_error` (timeouts and connection errors retry).

One pooled ``aiohttp.ClientSession`` per gateway, created on first use in the running loop, with the
gateway's timeouts, pool size, proxy and CA bundle. A transport belongs to one event loop: create,
use and :meth:`close` it there.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from functools import lru_cache

import aiohttp

from ..core.errors import Classification, FailureKind, classify_exception
from .base import HttpAnswer, HttpGateway, OutboundMessage, SendResult, caused_by_dns


def classify_aiohttp_error(exc: BaseException) -> Classification:
    """Map an aiohttp (or asyncio timeout) exception to a classification, as for ``requests``."""
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch | ssl.SSLError):
        return classify_exception(FailureKind.TLS)
    if isinstance(exc, TimeoutError):  # ServerTimeoutError (connect or read) is one too
        return classify_exception(FailureKind.TIMEOUT)
    if isinstance(exc, aiohttp.InvalidURL):
        return classify_exception("configuration")
    if isinstance(exc, aiohttp.ClientConnectionError | ConnectionError):
        return classify_exception(FailureKind.DNS if caused_by_dns(exc) else FailureKind.CONNECTION)
    return classify_exception(FailureKind.PROTOCOL)


@lru_cache(maxsize=8)
def _tls_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)  # reads the bundle: tens of milliseconds


class AsyncHttpTransport:
    """Sends through HTTP gateways with aiohttp; one session per gateway."""

    def __init__(self) -> None:
        self._sessions: dict[int, tuple[HttpGateway, aiohttp.ClientSession]] = {}

    async def open(self, gateways: Iterable[HttpGateway]) -> None:
        """Create the sessions of ``gateways`` now (TLS set-up included), before the first send."""
        for gateway in gateways:
            self._session(gateway)

    def _session(self, gateway: HttpGateway) -> aiohttp.ClientSession:
        entry = self._sessions.get(id(gateway))
        if entry is not None and entry[0] is gateway:
            return entry[1]
        options = gateway.options
        bundle = gateway.ca_bundle
        https = gateway.base_url.lower().startswith("https:")
        connector = aiohttp.TCPConnector(
            limit=options.pool_size, ssl=_tls_context(bundle) if bundle and https else True
        )
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=options.connect_timeout, sock_read=options.read_timeout
        )
        # trust_env off: the proxy is the gateway's, read from the environment once.
        session = aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)
        self._sessions[id(gateway)] = (gateway, session)
        return session

    async def send(self, gateway: HttpGateway, message: OutboundMessage) -> SendResult:
        """Submit ``message`` through ``gateway``'s account; never raises for provider or network problems."""
        prepared = gateway.prepare(message)
        try:
            session = self._session(gateway)
            async with session.post(
                prepared.url, data=prepared.body, headers=prepared.headers, proxy=gateway.proxy
            ) as response:
                body = await response.read()
                answer = HttpAnswer(response.status, body, response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            # ValueError: a URL aiohttp cannot even parse (yarl), i.e. a configuration error.
            failure = classify_exception("configuration") if type(exc) is ValueError else (
                classify_aiohttp_error(exc))
            return gateway.unanswered(prepared, message, failure)
        return gateway.answered(prepared, message, answer)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for _, session in sessions:
            await session.close()
        await asyncio.sleep(0)  # let the connectors' transports finish closing

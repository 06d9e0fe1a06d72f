"""The batch HTTP client (``transports.wire``) against a raw local server: the request as
written, keep-alive reuse, chunked and Content-Length bodies, a connection the server closed
while idle, timeouts."""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from careloop.outreach import http_batches
from careloop.outreach.http_batches import Connections, run_coroutine, send_http
from careloop.outreach.models import Message
from careloop.outreach.transports import HttpTransport, Outgoing, Receipt, TransportError, wire
from careloop.outreach.transports.aliyun import AliyunSms
from careloop.outreach.transports.base import HttpRequest, HttpResponse
from careloop.outreach.transports.wire import WireClient, WireError

Answer = Callable[[int], bytes]


async def serve(answer: Answer, seen: list[bytes], connections: list[int]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                seen.append(head + await reader.readexactly(length))
                reply = answer(len(seen))
                if reply == b"hang":
                    await asyncio.sleep(5)
                writer.write(reply)
                await writer.drain()
                if b"Connection: close" in reply or reply == b"" or reply.endswith(b'{"Co'):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def run(answer: Answer, requests: list[HttpRequest]) -> tuple[list, list[bytes], int]:
    seen: list[bytes] = []
    connections: list[int] = []

    async def main() -> list:
        server = await serve(answer, seen, connections)
        port = server.sockets[0].getsockname()[1]
        client = WireClient()
        results = []
        for request in requests:
            url = request.url.replace("PORT", str(port))
            try:
                results.append(
                    await client.request(
                        HttpRequest(
                            request.method, url, request.headers, request.body, request.params
                        )
                    )
                )
            except WireError as error:
                results.append(error)
        await client.aclose()
        server.close()
        return results

    return run_coroutine(main()), seen, len(connections)


OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"Code":1}\n'
POST = HttpRequest(
    "POST",
    "http://127.0.0.1:PORT/sms/send",
    {"Content-Type": "application/json"},
    b'{"a": 1}',
    {"access_token": "t0k"},
)


def test_the_request_as_written_and_keep_alive_reuse() -> None:
    results, seen, connections = run(lambda n: OK, [POST, POST, POST])
    assert [r.status for r in results] == [200, 200, 200]
    assert results[0].body == b'{"Code":1}\n'
    assert connections == 1  # one connection, kept alive
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /sms/send?access_token=t0k HTTP/1.1"
    assert lines[1].startswith(b"Host: 127.0.0.1:")
    assert b"Content-Type: application/json" in lines
    assert b"Content-Length: 8" in lines
    assert body == b'{"a": 1}'


def test_a_signed_host_header_is_sent_once() -> None:
    # Tencent Cloud signs the Host header, so its request carries one; the request line
    # must still have a single Host (a server answers 400 to two: RFC 9112, 3.2).
    from careloop.outreach.transports.tencent import TencentSms

    sms = TencentSms(
        {"sdk_app_id": "1400006666", "sign_name": "某某医院", "endpoint": "http://127.0.0.1:PORT"},
        {"secret_id": "AKIDid", "secret_key": "k"},
    )
    built = sms.build(Outgoing(key="k", to="13800138000", text="t", template_code="1"))
    _results, seen, _connections = run(lambda n: OK, [built])
    head = seen[0].partition(b"\r\n\r\n")[0].split(b"\r\n")
    hosts = [line for line in head if line.lower().startswith(b"host:")]
    assert hosts == [b"Host: 127.0.0.1:PORT"]  # the signed value, as the signature has it
    assert len([line for line in head if line.lower().startswith(b"content-length:")]) == 1


def test_chunked_body_and_connection_close() -> None:
    chunked = (
        b"HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b'4\r\n{"Co\r\n6;ext=1\r\nde":2}\r\n0\r\n\r\n'
    )
    results, _seen, connections = run(lambda n: chunked, [POST, POST])
    assert [(r.status, r.body) for r in results] == [(500, b'{"Code":2}')] * 2
    assert connections == 2  # the server said close: a new connection each time


def test_an_idle_connection_the_server_closed_is_replaced_once() -> None:
    # The server answers the first request, then closes without answering the second.
    answers = {1: OK, 2: b""}
    results, seen, connections = run(lambda n: answers.get(n, OK), [POST, POST])
    assert [r.status for r in results] == [200, 200]
    assert connections == 2 and len(seen) == 3  # the second was sent again on a new one


def test_a_server_that_does_not_answer_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "TIMEOUT", 0.2)
    [result], _seen, _connections = run(lambda n: b"hang", [POST])
    assert isinstance(result, WireError)
    assert str(result) == "timeout"


def test_nothing_listening_and_a_bad_url_are_errors() -> None:
    async def main() -> list[str]:
        client = WireClient()
        errors = []
        for url in ("http://127.0.0.1:1/", "ftp://example.cn/"):
            try:
                await client.request(HttpRequest("GET", url))
            except WireError as error:
                errors.append(str(error))
        return errors

    assert run_coroutine(main()) == [
        "ConnectionRefusedError",
        "not an http(s) URL: ftp://example.cn",
    ]


def test_a_body_until_close_is_read_whole_and_a_half_answer_is_not_sent_again() -> None:
    whole = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 200_000
    results, _seen, _connections = run(lambda n: whole, [POST])
    assert results[0].body == b"x" * 200_000
    # The server answers the first request, then breaks off in the middle of the second
    # answer: the request reached it, so it is not sent again.
    answers = {1: OK, 2: b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"Co'}
    results, seen, _connections = run(lambda n: answers.get(n, OK), [POST, POST])
    assert results[0].status == 200 and isinstance(results[1], WireError)
    assert len(seen) == 2


ALIYUN_OK = b'HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n{"Code":"OK","BizId":"b1"}'


@contextmanager
def aliyun_server(answer: Answer) -> Iterator[tuple[AliyunSms, list[bytes], list[int]]]:
    """A raw keep-alive server in a thread of its own, and an Aliyun SMS transport to it."""
    seen: list[bytes] = []
    connections: list[int] = []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(serve(answer, seen, connections), loop).result(5)
    port = server.sockets[0].getsockname()[1]
    try:
        yield (
            AliyunSms(
                {"sign_name": "测试医院", "endpoint": f"http://127.0.0.1:{port}"},
                {"access_key_id": "k", "access_key_secret": "s"},
            ),
            seen,
            connections,
        )
    finally:

        async def shut_down() -> None:
            server.close()
            await server.wait_closed()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for handler in handlers:
                handler.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut_down(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def where_no_loop_runs(test: Callable[..., None]) -> Callable[..., None]:
    """Run ``test`` in a thread of its own, where no event loop runs, as in a dispatch
    worker: the browser tests leave Playwright's loop running in the test thread, and there
    ``Connections`` sends each batch at once in a thread (tested by the dispatch tests)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(test, *args, **kwargs).result(timeout=60)

    return run


def batch(transport: HttpTransport, first: int) -> list[tuple[Message, HttpTransport]]:
    return [
        (Message(pk=pk, key=f"task:{pk}:sms", to="13800000000", template_code="SMS_1"), transport)
        for pk in range(first, first + 3)
    ]


@where_no_loop_runs
def test_the_batches_of_a_dispatch_round_share_their_connections() -> None:
    with aliyun_server(lambda n: ALIYUN_OK) as (transport, seen, connections):
        sender = Connections()
        try:
            results = [sender.send(batch(transport, 1), 1), sender.send(batch(transport, 4), 1)]
        finally:
            sender.close()
        assert [sorted(r) for r in results] == [[1, 2, 3], [4, 5, 6]]
        assert all(isinstance(r, Receipt) for answers in results for r in answers.values())
        assert len(seen) == 6 and len(connections) == 1  # one connection for both batches
        assert sender.loop is None  # closed with its connections
        # A batch sent alone opens (and closes) connections of its own.
        run_coroutine(send_http(batch(transport, 7), 1))
        assert len(seen) == 9 and len(connections) == 2


@where_no_loop_runs
def test_a_round_that_breaks_off_gives_up_the_sends_it_started() -> None:
    gc.collect()  # what earlier tests left behind is not this test's to report
    with (
        aliyun_server(lambda n: b"hang") as (transport, _seen, _connections),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", ResourceWarning)
        sender = Connections()
        waiting = sender.start(batch(transport, 1), 1)
        waiting_loop = sender.loop
        assert waiting_loop is not None
        sender.pump()  # the request goes out and waits for its answer
        sender.close()  # without waiting for the answers
        assert waiting_loop.is_closed()
        assert not asyncio.all_tasks(waiting_loop)  # cancelled, none left pending
        with pytest.raises(RuntimeError):
            waiting(None)  # nothing to wait for any more
        del waiting, waiting_loop, sender
        gc.collect()
    # Its connection was closed then, not left for the garbage collector to find.
    left = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not [w for w in left if "transport" in w or "socket" in w], left


@where_no_loop_runs
def test_a_fault_in_building_a_request_fails_that_message_alone() -> None:
    class Faulty(AliyunSms):
        def build(self, message: Outgoing) -> HttpRequest:
            if message.key == "task:2:sms":
                raise ValueError("a bug")
            return super().build(message)

    with aliyun_server(lambda n: ALIYUN_OK) as (transport, seen, _connections):
        faulty = Faulty(transport.settings, transport.secrets)
        sender = Connections()
        try:
            answers = sender.send(batch(faulty, 1), 2)
        finally:
            sender.close()
    assert isinstance(answers[1], Receipt) and isinstance(answers[3], Receipt)
    failed = answers[2]
    assert isinstance(failed, TransportError)
    assert (failed.code, failed.permanent) == ("internal", True)  # passed on, not retried
    assert len(seen) == 2


@where_no_loop_runs
def test_a_worker_that_finished_during_a_pump_leaves_its_place_to_the_next_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The last worker returns in the loop's final pass, before its task's done callback
    # runs: the next batch must still get a worker, or it would wait forever.
    answers: list[asyncio.Future[None]] = []

    class Held:
        async def request(self, request: HttpRequest) -> HttpResponse:
            if answers:
                return HttpResponse(200, ALIYUN_OK.split(b"\r\n\r\n")[1])
            answers.append(asyncio.get_running_loop().create_future())
            await answers[0]
            return HttpResponse(200, ALIYUN_OK.split(b"\r\n\r\n")[1])

        async def aclose(self) -> None:
            pass

    async def answered_now(delay: float) -> None:
        for answer in answers:
            if not answer.done():
                answer.set_result(None)

    monkeypatch.setattr(http_batches, "AsyncClient", Held)
    transport = AliyunSms(
        {"sign_name": "测试医院", "endpoint": "http://127.0.0.1:9/"},
        {"access_key_id": "k", "access_key_secret": "s"},
    )
    sender = Connections()
    try:
        first = sender.start(batch(transport, 1)[:1], 1)
        with monkeypatch.context() as patch:
            patch.setattr(asyncio, "sleep", answered_now)
            sender.pump()  # the answer comes in; the worker returns in the last pass
        second = sender.start(batch(transport, 2)[:1], 1)
        assert sorted(first(None) or {}) == [1]
        waiting = ThreadPoolExecutor(max_workers=1).submit(second, None)
        assert sorted(waiting.result(timeout=5) or {}) == [2]
    finally:
        sender.close()


@where_no_loop_runs
def test_time_the_round_spends_on_the_database_does_not_count_against_a_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def in_50_ms(n: int) -> bytes:
        time.sleep(0.05)
        return ALIYUN_OK

    monkeypatch.setattr(wire, "TIMEOUT", 0.5)
    with aliyun_server(in_50_ms) as (transport, seen, _connections):
        sender = Connections()
        try:
            waiting = sender.start(batch(transport, 1), 3)
            sender.pump()  # the requests go out
            time.sleep(1.0)  # the worker records, queues and claims (the loop not running)
            answers = waiting(None)
        finally:
            sender.close()
    assert len(seen) == 3
    assert answers is not None and len(answers) == 3
    assert all(isinstance(answer, Receipt) for answer in answers.values()), answers


def test_aliyun_requests_keep_no_phone_numbers_in_the_address_cache() -> None:
    """Aliyun's parameters (numbers, the template's names) are in each request's query
    string: the cache of split addresses holds the endpoint once, not each request's query
    (it would hold the last 64 recipients and miss every time)."""
    sms = AliyunSms(
        {"sign_name": "某某医院", "endpoint": "https://dysmsapi.aliyuncs.com"},
        {"access_key_id": "LTAIkey", "access_key_secret": "the-secret"},
    )
    wire._split.cache_clear()
    targets = []
    for n in range(3):
        built = sms.build(
            Outgoing(key=f"task:{n}:sms", to=f"1380013800{n}", text="t", template_code="SMS_1")
        )
        scheme, host, port, target = wire._target(built)
        assert (scheme, host, port) == ("https", "dysmsapi.aliyuncs.com", 443)
        assert target == "/?" + built.url.partition("?")[2]  # the query as signed
        targets.append(target)
    assert len(set(targets)) == 3
    assert wire._split.cache_info().currsize == 1

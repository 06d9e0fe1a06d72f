"""A local FreeSWITCH event socket, as ``mod_event_socket`` documents it: it asks to log in
(``auth/request``), checks the password, and answers ``bgapi`` commands with a Job-UUID.
It keeps every command it was sent, to check the call placed."""

from __future__ import annotations

import socket
import socketserver
import threading
import uuid


class EslServer:
    def __init__(self, password: str, answer: str = "") -> None:
        self.password = password
        self.answer = answer  # a Reply-Text instead of "+OK Job-UUID: …" (a refusal)
        self.commands: list[str] = []
        self.logins: list[str] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"Content-Type: auth/request\n\n")
                while command := self._command():
                    if command.startswith("auth "):
                        outer.logins.append(command[5:])
                        ok = command[5:] == outer.password
                        self._reply("+OK accepted" if ok else "-ERR invalid")
                        if not ok:
                            self.wfile.write(b"Content-Type: text/disconnect-notice\n\n")
                            return
                        continue
                    outer.commands.append(command)
                    if command.startswith("bgapi "):
                        job = str(uuid.uuid4())
                        # An event first: a client reads past it to the command's reply.
                        event = b"Event-Name: HEARTBEAT\n"
                        self.wfile.write(
                            b"Content-Type: text/event-plain\nContent-Length: %d\n\n%s"
                            % (len(event), event)
                        )
                        self._reply(outer.answer or f"+OK Job-UUID: {job}", job)
                    else:
                        self._reply("-ERR command not found")

            def _command(self) -> str:
                lines = []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return ""
                    if line in (b"\n", b"\r\n"):
                        return "\n".join(lines)
                    lines.append(line.decode().rstrip("\r\n"))

            def _reply(self, text: str, job: str = "") -> None:
                extra = f"Job-UUID: {job}\n" if job else ""
                self.wfile.write(
                    f"Content-Type: command/reply\nReply-Text: {text}\n{extra}\n".encode()
                )

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A loopback port nothing listens on (for "cannot reach")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

"""A local FreeSWITCH event socket, as ``mod_event_socket`` documents it: it asks to log in
(``auth/request``), checks the password, answers ``bgapi`` commands with a Job-UUID and
``api sofia status gateway`` as mod_sofia writes it (``gateways``: name → UP or DOWN; any
other name is not known). It keeps every command it was sent, to check the call placed."""

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
        self.apis: list[str] = []
        self.logins: list[str] = []
        self.gateways = {"cucc": "UP"}
        self.admitted = True  # False: this address is not in the socket's apply-inbound-acl
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                if not outer.admitted:
                    denied = b"Access Denied, go away.\n"
                    self.wfile.write(
                        b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n%s"
                        % (len(denied), denied)
                    )
                    return
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
                    if command.startswith("api "):
                        outer.apis.append(command[4:])
                        self._api(command[4:])
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

            def _api(self, command: str) -> None:
                words = command.split()
                if words[:3] != ["sofia", "status", "gateway"] or len(words) != 4:
                    body = "-ERR command not found\n"
                elif words[3] not in outer.gateways:
                    body = "Invalid Gateway!\n"
                else:
                    line = "=" * 97
                    state = "REGED" if outer.gateways[words[3]] == "UP" else "FAIL_WAIT"
                    body = (
                        f"{line}\nName    \t{words[3]}\nProfile \texternal\n"
                        f"State   \t{state}\nStatus  \t{outer.gateways[words[3]]}\n"
                        f"CallsOUT\t0\n{line}\n"
                    )
                data = body.encode()
                self.wfile.write(
                    b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(data), data)
                )

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

"""A small APNs binary-protocol sender, standard library only.

It is the client under test of the example adapter (adapter.py): written
for the example, not for production. It keeps one TLS connection open and
reuses it, writes commands 0, 1 or 2, waits a moment after its writes for
an error response, remembers what it wrote on the connection so that it can
send again what the gateway threw away, and reads the feedback service.
"""

import os
import select
import socket
import ssl
import struct
import tempfile
import time

ERROR_RESPONSE = 8  # command of the gateway's 6-byte error response
SHUTDOWN = 10       # status: the gateway shut down; the id is the last one it processed
PROCESSING = 1      # status: processing error, worth sending again
INVALID_PAYLOAD_SIZE = 7
MAX_ATTEMPTS = 16   # writes in a row that settle nothing before giving up


class SenderError(Exception):
    """A send that could not be attempted at all."""


def _host_port(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def _frame(command, ident, token, payload, priority, expiry):
    """One notification in the binary format `command`."""
    tok = bytes.fromhex(token)
    if command == 0:
        return struct.pack(">BH", 0, len(tok)) + tok + struct.pack(">H", len(payload)) + payload
    if command == 1:
        return (struct.pack(">BIIH", 1, ident, expiry or 0, len(tok)) + tok
                + struct.pack(">H", len(payload)) + payload)
    items = [(1, tok), (2, payload), (3, struct.pack(">I", ident))]
    if expiry:
        items.append((4, struct.pack(">I", expiry)))
    if priority:
        items.append((5, struct.pack(">B", priority)))
    body = b"".join(struct.pack(">BH", i, len(d)) + d for i, d in items)
    return struct.pack(">BI", 2, len(body)) + body


class Notification:
    """One token of a message, with what it takes to write it again."""

    def __init__(self, token, payload, priority, expiry, command):
        self.token, self.payload = token, payload
        self.priority, self.expiry, self.command = priority, expiry, command


class Sender:
    def __init__(self, gateway, feedback, ca_pem, cert_pem, key_pem=None, error_wait=0.3):
        self.gateway, self.feedback_addr = gateway, feedback
        self.error_wait = error_wait if error_wait > 0 else 0.3
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.load_verify_locations(cadata=ca_pem)
        # load_cert_chain reads files only: write the PEM text to a private
        # temporary folder for the time it takes.
        with tempfile.TemporaryDirectory() as d:
            cert = os.path.join(d, "cert.pem")
            with open(cert, "w") as f:
                f.write(cert_pem)
            key = None
            if key_pem:
                key = os.path.join(d, "key.pem")
                with open(key, "w") as f:
                    f.write(key_pem)
            self.ctx.load_cert_chain(cert, key)
        self.sock = None
        self.written = []   # notifications written on the connection, by identifier - first_id
        self.first_id = 1
        self.next_id = 1
        self.last_used = 0.0
        self.closed = False

    # --- the connection ---------------------------------------------------

    def _connect(self):
        host, port = _host_port(self.gateway)
        raw = socket.create_connection((host, port), timeout=10)
        self.sock = self.ctx.wrap_socket(raw, server_hostname=host)
        self.sock.settimeout(None)
        self.written, self.first_id = [], self.next_id

    def _drop(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock, self.written = None, []

    def _read_response(self, timeout):
        """Waits up to timeout for the gateway to speak. Returns
        ("response", status, ident), ("eof",), ("error", message) or None
        when it stayed silent."""
        deadline = time.monotonic() + timeout
        data = b""
        try:
            while len(data) < 6:
                left = deadline - time.monotonic()
                if left <= 0 and self.sock.pending() == 0:
                    # One last look without waiting: select, since TLS
                    # records that carry no data (session tickets) make
                    # the socket readable too.
                    if not select.select([self.sock], [], [], 0)[0]:
                        return ("eof",) if data else None
                    left = 0.005
                # A timeout, not select alone, bounds recv: a readable
                # socket may hold no application data yet.
                self.sock.settimeout(max(left, 0.005))
                try:
                    chunk = self.sock.recv(6 - len(data))
                except (socket.timeout, ssl.SSLWantReadError):
                    if time.monotonic() >= deadline:
                        return ("eof",) if data else None
                    continue
                if not chunk:
                    return ("eof",)
                data += chunk
        except (ssl.SSLError, OSError) as e:
            return ("error", str(e))
        finally:
            if self.sock is not None:
                self.sock.settimeout(None)
        command, status, ident = struct.unpack(">BBI", data)
        if command != ERROR_RESPONSE:
            return ("error", "unexpected bytes from the gateway: %r" % data)
        return ("response", status, ident)

    # --- judging what the gateway said -------------------------------------

    def _settle(self, answer, out, uncertain_window):
        """Applies the gateway's answer to what was written on the
        connection; returns the notifications to send again."""
        kind = answer[0]
        written = self.written
        again = []
        if kind == "response":
            _, status, ident = answer
            i = ident - self.first_id
            if not 0 <= i < len(written):
                out["statuses"].append(status)
                out["errors"].append("status %d for identifier %d, which this connection never wrote" % (status, ident))
                self._drop()
                return []
            named, after = written[i], written[i + 1:]
            if status == SHUTDOWN:
                out["statuses"].append(status)
                again = after
            elif status == PROCESSING:
                out["statuses"].append(status)
                again = [named] + after
            elif status == INVALID_PAYLOAD_SIZE:
                # The payload is refused, so every token that carries it is.
                out["statuses"].append(status)
                for n in [named] + after:
                    if n.payload == named.payload:
                        out["failed"].append({"token": n.token, "status": status})
                    else:
                        again.append(n)
            else:
                out["failed"].append({"token": named.token, "status": status})
                again = after
        elif kind in ("eof", "error"):
            if kind == "error":
                out["errors"].append(answer[1])
            # Cut without a word: what was written in this window may or
            # may not have been processed.
            again = uncertain_window
            out["uncertain"].extend(n.token for n in again)
        self._drop()
        return again

    def _check_idle(self, out):
        """Before writing on a kept connection, reads what the gateway may
        have said since; returns what to send again."""
        if self.sock is None:
            return []
        answer = self._read_response(0.02)
        if answer is None:
            return []
        if answer[0] == "response":
            return self._settle(answer, out, [])
        self._drop()  # closed while idle: everything on it was presumed delivered
        return []

    # --- the operations ---------------------------------------------------

    def send(self, tokens, payload, priority=None, expiry=None, command=2):
        """Sends one message to tokens and follows the retries to the end.
        Returns the outcome in the adapter protocol's terms."""
        if self.closed:
            raise SenderError("the sender is shut down")
        out = {"failed": [], "statuses": [], "errors": [], "retried": [],
               "uncertain": [], "unsent": [], "attempts": 0}
        queue = self._check_idle(out)
        if queue:
            out["retried"].extend(n.token for n in queue)
        queue += [Notification(t, payload, priority, expiry, command) for t in tokens]
        idle_rounds = 0
        while queue:
            if out["attempts"] > 0:
                out["retried"].extend(n.token for n in queue)
            out["attempts"] += 1
            if self.sock is None:
                try:
                    self._connect()
                except (OSError, ssl.SSLError) as e:
                    out["errors"].append("connecting to %s: %s" % (self.gateway, e))
                    out["unsent"].extend(n.token for n in queue)
                    return out
            window = []
            frames = []
            for n in queue:
                ident = self.next_id
                self.next_id = (self.next_id + 1) & 0xFFFFFFFF or 1
                frames.append(_frame(n.command, ident, n.token, n.payload, n.priority, n.expiry))
                self.written.append(n)
                window.append(n)
            try:
                self.sock.sendall(b"".join(frames))
                # The gateway may still be reading a large write when a
                # fixed window ends: the wait grows with what was written
                # (0.3 ms a notification, 0.9 s more for 3,000).
                answer = self._read_response(self.error_wait + 0.0003 * len(frames))
            except (OSError, ssl.SSLError) as e:
                answer = self._read_response(0) if self.sock is not None else None
                if answer is None or answer[0] != "response":
                    answer = ("error", "writing: %s" % e)
            self.last_used = time.monotonic()
            if answer is None:
                return out  # silence: everything written is presumed delivered
            settled_before = len(out["failed"])
            queue = self._settle(answer, out, window)
            if len(out["failed"]) == settled_before and len(queue) >= len(window):
                idle_rounds += 1
            else:
                idle_rounds = 0
            if idle_rounds >= MAX_ATTEMPTS:
                out["errors"].append("gave up after %d attempts" % MAX_ATTEMPTS)
                out["unsent"].extend(n.token for n in queue)
                return out
        return out

    def feedback(self):
        """Reads the feedback service once: [(hex token, UNIX time)]."""
        host, port = _host_port(self.feedback_addr)
        raw = socket.create_connection((host, port), timeout=10)
        data = b""
        with self.ctx.wrap_socket(raw, server_hostname=host) as s:
            while True:
                try:
                    chunk = s.recv(65536)
                except ssl.SSLError:
                    break  # a cut connection ends the read with what came whole
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
        tuples, i = [], 0
        while len(data) - i >= 6:
            when, size = struct.unpack_from(">IH", data, i)
            if len(data) - i - 6 < size:
                break
            tuples.append((data[i + 6:i + 6 + size].hex(), when))
            i += 6 + size
        return tuples

    def outdate(self, idle):
        """Closes the connection if it has been idle for longer than idle
        seconds; returns how many connections it closed."""
        if self.sock is None or time.monotonic() - self.last_used <= idle:
            return 0
        self._drop()
        return 1

    def shutdown(self):
        """Closes the connection; every later send is refused."""
        self._drop()
        self.closed = True

    def close(self):
        """Closes the connection. Returns the error responses that arrived
        after the last send could report them, as text."""
        late = []
        if self.sock is not None:
            answer = self._read_response(0)
            if answer is not None and answer[0] == "response":
                late.append("status %d for identifier %d" % (answer[1], answer[2]))
        self._drop()
        return late

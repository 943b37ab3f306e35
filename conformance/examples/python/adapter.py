"""Example adapter of the apnskit conformance kit, standard library only.

It speaks the kit's line protocol (conformance/README.md) on stdin and
stdout and drives apns_sender.Sender, a small binary-protocol client
written for the example. Run the whole suite through it with:

    go test ./conformance/ -run TestExternal -args \
        -client.cmd "python3 conformance/examples/python/adapter.py"
"""

import base64
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apns_sender import Sender, SenderError  # noqa: E402

# Only what the sender really does: it keeps and reuses one connection,
# closes it on demand when idle, shuts down, reads the feedback service and
# writes commands 0 and 1 besides 2. It has no per-address pools, takes no
# per-batch overrides and handles one request at a time.
CAPABILITIES = ["reuse", "outdate", "shutdown", "feedback", "command0", "command1"]


def answer(resp):
    sys.stdout.write(json.dumps(resp, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    sender = None
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        resp = {"id": req.get("id"), "ok": True}
        op = req.get("op")
        try:
            if op == "hello":
                resp.update(protocol=2, name="pyapns-example", version="0.1",
                            capabilities=CAPABILITIES)
            elif op == "configure":
                if sender is not None:
                    sender.close()
                sender = Sender(req["gateway"], req.get("feedback", ""), req["ca_pem"],
                                req["cert_pem"], req.get("key_pem"),
                                req.get("error_wait_ms", 0) / 1000)
            elif op == "send":
                if sender is None:
                    raise SenderError("not configured")
                if req.get("gateway") or req.get("cert_pem"):
                    raise SenderError("per-batch overrides are not supported")
                # The exact bytes, not a re-encoding of the parsed object.
                payload = base64.b64decode(req["payload_base64"])
                command = req.get("command")
                resp["outcome"] = sender.send(
                    req["tokens"], payload, priority=req.get("priority"),
                    expiry=req.get("expiry"), command=2 if command is None else command)
            elif op == "feedback":
                if sender is None:
                    raise SenderError("not configured")
                resp["tuples"] = [
                    {"token": tok, "time": datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
                     .strftime("%Y-%m-%dT%H:%M:%SZ")}
                    for tok, when in sender.feedback()]
            elif op == "outdate":
                resp["closed"] = sender.outdate(req.get("idle_ms", 0) / 1000) if sender else 0
            elif op == "shutdown":
                if sender is not None:
                    sender.shutdown()
            elif op == "close":
                late = sender.close() if sender is not None else []
                if late:
                    resp.update(ok=False, error="error responses learnt only at close: " + "; ".join(late))
                answer(resp)
                return 0
            else:
                resp.update(ok=False, unsupported=True, error="%s is not supported" % op)
        except Exception as e:  # every failure is an answer, never a crash
            resp.update(ok=False, error="%s: %s" % (type(e).__name__, e))
        answer(resp)
    if sender is not None:
        sender.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env node
'use strict';
// An example adapter of the apnskit conformance kit's line protocol
// (version 3), for the small HTTP/2 sender in apns_h2.js. Node.js standard
// library only. It reads one JSON request a line on stdin and writes one
// JSON answer a line on stdout; stderr is free for logs.

const readline = require('node:readline');
const { Sender } = require('./apns_h2.js');

const PROTOCOL = 3; // the first version that carries HTTP/2
// Only what the sender really does: HTTP/2, one request at a time. It has
// no binary-protocol client, so it declares neither command0/command1 nor
// the binary pooling capabilities. It pings quiet connections (keepalive,
// keepalive_ms of configure). It does not take the kit's clock (clock): the
// line protocol cannot carry one.
const CAPABILITIES = ['http2', 'keepalive'];

// The members each operation may carry in version 3. A member the adapter
// does not know would be silently dropped, so it is refused instead.
const MEMBERS = {
  configure: ['gateway', 'feedback', 'ca_pem', 'cert_pem', 'key_pem', 'error_wait_ms', 'transport',
    'http2_addr', 'http2_url', 'auth', 'auth_key_pem', 'key_id', 'team_id', 'keepalive_ms'],
  send: ['tokens', 'payload', 'payload_text', 'payload_base64', 'priority', 'expiry', 'command',
    'gateway', 'cert_pem', 'key_pem', 'transport', 'topic', 'push_type', 'collapse_id'],
  shutdown: [],
  close: [],
};

let sender = null;
let down = false; // after shutdown: later sends are refused

function answer(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function checkMembers(req) {
  const allowed = MEMBERS[req.op];
  for (const k of Object.keys(req)) {
    if (k === 'id' || k === 'op') continue;
    if (!allowed.includes(k)) throw new Error(`line protocol error: ${req.op} has no member "${k}"`);
    if (req[k] === null) throw new Error(`line protocol error: ${req.op}.${k} is null`);
  }
}

function configure(req) {
  if (req.transport !== 'http2') {
    throw new Error('this example sends over HTTP/2 only (transport "http2")');
  }
  let url = req.http2_url;
  if (url === undefined && req.http2_addr !== undefined) url = `https://${req.http2_addr}`;
  if (url === undefined) throw new Error('configure: http2_addr or http2_url is required');
  const cfg = { url, ca: req.ca_pem, auth: req.auth, keepAliveMs: req.keepalive_ms };
  if (req.auth === 'certificate') {
    if (req.cert_pem === undefined) throw new Error('configure: auth "certificate" needs cert_pem');
    cfg.cert = req.cert_pem;
    cfg.key = req.key_pem !== undefined ? req.key_pem : req.cert_pem; // the key may follow the certificate
  } else if (req.auth === 'token') {
    if (req.auth_key_pem === undefined || req.key_id === undefined || req.team_id === undefined) {
      throw new Error('configure: auth "token" needs auth_key_pem, key_id and team_id');
    }
    Object.assign(cfg, { authKey: req.auth_key_pem, keyId: req.key_id, teamId: req.team_id });
  } else {
    throw new Error(`configure: auth must be "certificate" or "token", not ${JSON.stringify(req.auth)}`);
  }
  const next = new Sender(cfg); // a bad key throws here, leaving the old sender in place
  if (sender !== null) sender.close();
  sender = next;
}

async function send(req) {
  if (down) throw new Error('the sender is shut down');
  if (sender === null) throw new Error('send before configure');
  if (req.transport !== 'http2') throw new Error('this example sends over HTTP/2 only');
  if (req.gateway !== undefined || req.cert_pem !== undefined || req.key_pem !== undefined) {
    throw new Error('per-batch overrides are not supported (the adapter does not declare "overrides")');
  }
  if (req.command !== undefined) throw new Error('HTTP/2 has no command');
  if (!Array.isArray(req.tokens) || req.tokens.some((t) => typeof t !== 'string' || !/^[0-9a-fA-F]+$/.test(t))) {
    throw new Error('line protocol error: send.tokens must be hex strings');
  }
  // The exact bytes: re-encoding req.payload could change spacing or key order.
  let payload;
  if (req.payload_base64 !== undefined) payload = Buffer.from(req.payload_base64, 'base64');
  else if (req.payload_text !== undefined) payload = Buffer.from(req.payload_text);
  else payload = Buffer.from(JSON.stringify(req.payload));
  return sender.send({
    tokens: req.tokens, payload, topic: req.topic, pushType: req.push_type, collapseId: req.collapse_id,
    priority: req.priority, expiry: req.expiry,
  });
}

async function handle(req) {
  switch (req.op) {
    case 'hello':
      // hello's members are not checked: a later version adds members here.
      return { protocol: PROTOCOL, name: 'apnskit-node-example', version: '1.0.0', capabilities: CAPABILITIES };
    case 'configure':
      checkMembers(req);
      configure(req);
      return {};
    case 'send':
      checkMembers(req);
      return { outcome: await send(req) };
    case 'shutdown':
      checkMembers(req);
      down = true;
      if (sender !== null) sender.close();
      return {};
    case 'close':
      checkMembers(req);
      if (sender !== null) sender.close();
      return {};
    default:
      return null; // unsupported: feedback, outdate, and any later operation
  }
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  // Requests are answered one at a time, in order: the adapter does not
  // declare "concurrent", so the kit waits for each answer anyway.
  for await (const line of rl) {
    if (line.trim() === '') continue;
    let req;
    try {
      req = JSON.parse(line);
    } catch (err) {
      answer({ id: 0, ok: false, error: `line protocol error: ${err.message}` });
      continue;
    }
    try {
      const res = await handle(req);
      if (res === null) {
        answer({ id: req.id, ok: false, unsupported: true, error: `${req.op} is not supported` });
      } else {
        answer({ id: req.id, ok: true, ...res });
      }
    } catch (err) {
      answer({ id: req.id, ok: false, error: err.message });
    }
    if (req.op === 'close') break;
  }
  if (sender !== null) sender.close();
  rl.close();
  process.stdin.destroy();
}

main().catch((err) => {
  process.stderr.write(`adapter: ${err.stack}\n`);
  process.exit(1);
});

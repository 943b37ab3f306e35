'use strict';
// A small sender for Apple's HTTP/2 provider API, Node.js standard library
// only. It is written to be read: each part says what APNs requires of a
// client and why, so that it can serve as a model for a client in any
// language.

const crypto = require('node:crypto');
const http2 = require('node:http2');

// Apple refuses a provider token older than an hour (ExpiredProviderToken)
// and a connection whose token changes more often than every 20 minutes
// (TooManyProviderTokenUpdates): one token is reused for every request and
// replaced in between, here after 40 minutes.
const TOKEN_LIFETIME_MS = 40 * 60 * 1000;

// Answers that say "not now" rather than "never": the same request may
// succeed a moment later, so it is sent again after a pause.
const RETRY_STATUSES = new Set([429, 500, 503]);
// Reasons a GOAWAY may carry after which a new connection is worth trying.
// Any other reason (BadCertificateEnvironment, BadCertificate ...) condemns
// the credentials themselves: reconnecting would only be refused again.
const RETRY_GOAWAY_REASONS = new Set(['Shutdown', 'ServiceUnavailable', 'InternalServerError',
  'TooManyRequests', 'IdleTimeout']);

const MAX_ROUNDS = 8;        // rounds of retries before giving up on a token
const BACKOFF_BASE_MS = 50;  // first pause after a 429/5xx; doubled per round
const BACKOFF_MAX_MS = 2000;

// ProviderToken signs and caches the JSON web token of token-based
// authentication: ES256 over the header {alg, kid} and the claims {iss, iat}.
class ProviderToken {
  constructor(keyPem, keyId, teamId) {
    this.key = crypto.createPrivateKey(keyPem); // throws on a bad key: configure fails
    if (this.key.asymmetricKeyType !== 'ec') {
      throw new Error('auth_key_pem: not an EC (P-256) key');
    }
    this.keyId = keyId;
    this.teamId = teamId;
    this.jwt = null;
    this.issuedAt = 0;
  }

  // current returns the cached token, minting a new one only when it is
  // due (or when APNs said the cached one expired: force).
  current(force = false) {
    const now = Date.now();
    if (this.jwt === null || force || now - this.issuedAt >= TOKEN_LIFETIME_MS) {
      const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
      const input = b64({ alg: 'ES256', kid: this.keyId }) + '.' +
        b64({ iss: this.teamId, iat: Math.floor(now / 1000) });
      // JWS wants the raw 64-byte r||s signature, not the DER that
      // crypto.sign writes by default.
      const sig = crypto.sign('sha256', Buffer.from(input), { key: this.key, dsaEncoding: 'ieee-p1363' });
      this.jwt = input + '.' + sig.toString('base64url');
      this.issuedAt = now;
    }
    return this.jwt;
  }
}

// Session wraps one HTTP/2 connection and bounds the streams open on it by
// the server's SETTINGS_MAX_CONCURRENT_STREAMS. APNs starts a token
// connection at one stream and raises the limit once a token is accepted,
// and may lower it at any time: requests wait here for a free stream
// rather than being sent and refused.
class Session {
  constructor(url, tlsOptions, keepAliveMs) {
    this.inFlight = 0;
    this.waiting = [];
    this.goaway = null; // {reason, lastStreamID} once the server said GOAWAY
    this.closed = false;
    this.settled = false;
    this.s = http2.connect(url, tlsOptions);
    this.ready = new Promise((resolve, reject) => {
      // Until the server's first SETTINGS arrives the limit is unknown (the
      // HTTP/2 default is unlimited): nothing is sent before it.
      this.s.once('remoteSettings', () => { this.settled = true; resolve(); });
      this.s.once('error', (err) => { if (!this.settled) reject(err); });
      this.s.once('close', () => { if (!this.settled) reject(new Error('connection closed before SETTINGS')); });
    });
    this.s.on('remoteSettings', () => { this.heard(); this.pump(); });
    // APNs closes connections that stay quiet, and a new connection costs a
    // TLS handshake and, with tokens, the single-stream phase again: a
    // connection that has heard nothing for keepAliveMs is sent a PING,
    // whose answer counts as hearing from the server.
    this.lastHeard = Date.now();
    if (keepAliveMs > 0) {
      this.pinger = setInterval(() => {
        if (this.closed || this.s.destroyed || Date.now() - this.lastHeard < keepAliveMs) return;
        this.lastHeard = Date.now(); // one PING at a time
        try {
          this.s.ping((err) => { if (!err) this.heard(); });
        } catch { /* closing: nothing to keep alive */ }
      }, Math.max(10, Math.floor(keepAliveMs / 4)));
      this.pinger.unref();
    }
    this.s.on('error', () => {}); // reported through the streams
    this.s.on('goaway', (code, lastStreamID, data) => {
      let reason = '';
      try { reason = JSON.parse(data.toString()).reason || ''; } catch { /* no JSON debug data */ }
      this.goaway = { code, lastStreamID, reason };
    });
    this.s.on('close', () => {
      this.closed = true;
      clearInterval(this.pinger);
      for (const w of this.waiting.splice(0)) w.reject(new Error('connection closed'));
    });
  }

  heard() {
    this.lastHeard = Date.now();
  }

  usable() {
    return !this.closed && this.goaway === null && !this.s.destroyed && !this.s.closed;
  }

  limit() {
    const n = this.s.remoteSettings && this.s.remoteSettings.maxConcurrentStreams;
    return n === undefined ? 1 : n;
  }

  pump() {
    while (this.waiting.length > 0 && this.inFlight < this.limit()) {
      this.inFlight++;
      this.waiting.shift().resolve();
    }
  }

  async slot() {
    await this.ready;
    if (this.inFlight < this.limit()) {
      this.inFlight++;
      return;
    }
    await new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  release() {
    this.inFlight--;
    this.pump();
  }

  close() {
    this.closed = true;
    clearInterval(this.pinger);
    if (!this.s.destroyed) this.s.close();
  }
}

// Sender sends notifications over one kept HTTP/2 connection, replaced when
// the server ends it.
class Sender {
  constructor(cfg) {
    this.url = cfg.url;
    this.tlsOptions = { ca: cfg.ca, ALPNProtocols: ['h2'] };
    if (cfg.auth === 'certificate') {
      this.tlsOptions.cert = cfg.cert;
      this.tlsOptions.key = cfg.key;
    } else {
      this.token = new ProviderToken(cfg.authKey, cfg.keyId, cfg.teamId);
    }
    this.keepAliveMs = cfg.keepAliveMs || 0;
    this.session = null;
  }

  currentSession() {
    if (this.session === null || !this.session.usable()) {
      this.session = new Session(this.url, this.tlsOptions, this.keepAliveMs);
    }
    return this.session;
  }

  // send delivers one payload to every token and answers the outcome of
  // the line protocol: each token ends accepted, refused for good (once, in
  // failed and reasons), or given up on (unsent).
  async send(batch) {
    const out = { failed: [], statuses: [], errors: [], retried: [], uncertain: [], unsent: [], attempts: 0, reasons: [] };
    const headers = { ':method': 'POST' };
    if (batch.topic !== undefined) headers['apns-topic'] = batch.topic;
    if (batch.pushType !== undefined) headers['apns-push-type'] = batch.pushType;
    if (batch.collapseId !== undefined) headers['apns-collapse-id'] = batch.collapseId;
    if (batch.priority !== undefined) headers['apns-priority'] = String(batch.priority);
    if (batch.expiry !== undefined) headers['apns-expiration'] = String(batch.expiry);
    if (batch.apnsId !== undefined) headers['apns-id'] = batch.apnsId;

    let pending = batch.tokens.slice();
    let pause = 0;
    for (let round = 0; pending.length > 0; round++) {
      if (round === MAX_ROUNDS) {
        out.errors.push(`gave up after ${MAX_ROUNDS} rounds`);
        out.unsent.push(...pending);
        break;
      }
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
      out.attempts++;
      if (round > 0) out.retried.push(...pending);
      const results = await Promise.all(pending.map((t) => this.post(t, headers, batch.payload)));
      const again = [];
      let backoff = false;
      for (const r of results) {
        switch (r.kind) {
          case 'ok':
            break;
          case 'final': // a reason that retrying cannot cure
            out.failed.push({ token: r.token, status: r.status });
            out.reasons.push(reasonEntry(r));
            break;
          case 'later': // 429/5xx: again, after a pause
            backoff = true;
            again.push(r.token);
            break;
          case 'refused': // never processed (above GOAWAY's last stream id, REFUSED_STREAM)
            again.push(r.token);
            break;
          case 'lost': // no answer: it may or may not have been delivered
            out.uncertain.push(r.token);
            again.push(r.token);
            break;
          case 'error': // the connection could not be made
            out.errors.push(`${r.token}: ${r.error}`);
            out.unsent.push(r.token);
            break;
        }
      }
      pending = again;
      pause = backoff ? Math.min(BACKOFF_BASE_MS * 2 ** round, BACKOFF_MAX_MS) : 0;
    }
    return out;
  }

  // post sends one notification and classifies its answer.
  async post(token, baseHeaders, payload) {
    const sess = this.currentSession();
    try {
      await sess.slot();
    } catch (err) {
      // Never sent. A connection that could not be made at all is an
      // error; one that worked and then ended sends this again.
      if (sess.goaway !== null) return this.ended(sess, token);
      if (sess.settled) return { kind: 'refused', token };
      return { kind: 'error', token, error: err.message };
    }
    if (!sess.usable()) { // the connection ended while this request waited
      sess.release();
      return this.ended(sess, token);
    }
    const headers = { ...baseHeaders, ':path': `/3/device/${token}` };
    if (this.token) headers.authorization = `bearer ${this.token.current()}`;
    return new Promise((resolve) => {
      let req;
      try {
        req = sess.s.request(headers);
      } catch (err) { // the session began closing between the check and here
        sess.release();
        resolve(this.ended(sess, token));
        return;
      }
      let status = 0;
      let apnsId;
      const chunks = [];
      req.on('response', (h) => {
        sess.heard();
        status = h[':status'];
        apnsId = h['apns-id'];
      });
      req.on('data', (c) => { sess.heard(); chunks.push(c); });
      req.on('error', () => {}); // judged on 'close' below
      req.on('close', () => {
        sess.release();
        if (status === 0) {
          // No answer. REFUSED_STREAM, or a stream above the last stream id
          // of a GOAWAY, was never processed: safe to send again.
          // Anything else (a reset, a dropped connection) may have been
          // delivered: send again, and say so (uncertain).
          const above = sess.goaway !== null && (req.id === undefined || req.id > sess.goaway.lastStreamID);
          if (req.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM || above) {
            resolve(this.ended(sess, token));
          } else {
            resolve({ kind: 'lost', token });
          }
          return;
        }
        if (status === 200) {
          resolve({ kind: 'ok', token });
          return;
        }
        let body = {};
        try { body = JSON.parse(Buffer.concat(chunks).toString()); } catch { /* no JSON body */ }
        const r = { token, status, reason: body.reason || `HTTP ${status}`, timestamp: body.timestamp, apnsId };
        if (status === 403 && body.reason === 'ExpiredProviderToken' && this.token) {
          this.token.current(true); // APNs' clock is ahead of ours: a fresh token, then again
          resolve({ kind: 'refused', token });
        } else if (RETRY_STATUSES.has(status)) {
          resolve({ kind: 'later', token });
        } else {
          resolve({ kind: 'final', ...r });
        }
      });
      req.end(payload);
    });
  }

  // ended classifies a request that a GOAWAY kept from being processed: it
  // goes again on a new connection, unless the GOAWAY's reason condemns the
  // credentials, in which case it is refused for good (HTTP status 0: no
  // response came).
  ended(sess, token) {
    const g = sess.goaway;
    if (g !== null && g.reason !== '' && !RETRY_GOAWAY_REASONS.has(g.reason)) {
      return { kind: 'final', token, status: 0, reason: g.reason };
    }
    return { kind: 'refused', token };
  }

  close() {
    if (this.session !== null) this.session.close();
    this.session = null;
  }
}

function reasonEntry(r) {
  const e = { token: r.token, reason: r.reason, http_status: r.status };
  // APNs gives the 410 timestamp in milliseconds since the epoch.
  if (r.timestamp !== undefined) e.timestamp = new Date(Number(r.timestamp)).toISOString().replace('.000Z', 'Z');
  if (r.apnsId !== undefined) e.apns_id = r.apnsId;
  return e;
}

module.exports = { Sender, ProviderToken };

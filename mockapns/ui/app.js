// The mockapns web page: a live view of the journal, read from the admin
// API's event stream (GET /api/v1/events), and the fault, feedback and
// device controls. Plain JavaScript, no library; every value from the
// journal is put in the page as text, never as markup.
"use strict";

(() => {
  const MAX_ROWS = 500; // entries the page keeps
  const STREAM_LIMIT = 200; // entries per update the page asks for
  const TOKEN_KEY = "mockapns-admin-token";

  const $ = (id) => document.getElementById(id);

  // el builds an element: el("td", {class: "x"}, "text", child, ...).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ---- The admin API, with the bearer token when the server wants one.

  let adminToken = sessionStorage.getItem(TOKEN_KEY) || "";
  let tokenAsked = null; // the promise of the open token dialog

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function headers(body) {
    const h = {};
    if (body !== undefined) h["Content-Type"] = "application/json";
    if (adminToken) h["Authorization"] = "Bearer " + adminToken;
    return h;
  }

  // api sends one request and returns the decoded JSON (null for 204).
  // A 401 asks for the token, then sends the request again.
  async function api(method, path, body, signal) {
    for (;;) {
      const init = { method, headers: headers(body), signal, cache: "no-store" };
      if (body !== undefined) init.body = JSON.stringify(body);
      if (method !== "GET") init.headers["Content-Type"] = "application/json";
      const resp = await fetch(path, init);
      if (resp.status === 401) {
        await askToken(resp);
        continue;
      }
      if (resp.status === 204) return null;
      const text = await resp.text();
      let data = null;
      try {
        data = text ? JSON.parse(text) : null;
      } catch (e) {
        throw new APIError(resp.status, "not JSON: " + text.slice(0, 200));
      }
      if (!resp.ok) throw new APIError(resp.status, (data && data.error) || resp.statusText);
      return data;
    }
  }

  // askToken opens the token dialog (once, however many requests wait)
  // and resolves when a token the server takes is entered.
  function askToken(resp) {
    if (!tokenAsked) {
      const wrong = adminToken !== "";
      tokenAsked = new Promise((resolve) => {
        const dlg = $("token-dialog");
        const err = $("token-dialog-error");
        err.hidden = !wrong;
        err.textContent = wrong ? "The server refused that token." : "";
        const form = $("token-form");
        const onSubmit = async (ev) => {
          ev.preventDefault();
          const t = $("token-input").value.trim();
          if (!t) return;
          const r = await fetch("/api/v1/stats", { headers: { Authorization: "Bearer " + t }, cache: "no-store" });
          if (r.status === 401) {
            err.hidden = false;
            err.textContent = "The server refused that token.";
            $("token-input").select();
            return;
          }
          adminToken = t;
          sessionStorage.setItem(TOKEN_KEY, t);
          form.removeEventListener("submit", onSubmit);
          dlg.close();
          tokenAsked = null;
          resolve();
        };
        form.addEventListener("submit", onSubmit);
        dlg.addEventListener("cancel", (ev) => ev.preventDefault()); // nothing works without it
        if (!dlg.open) dlg.showModal();
        $("token-input").focus();
      });
    }
    return tokenAsked;
  }

  // ---- Formatting.

  const pad = (n, w = 2) => String(n).padStart(w, "0");
  function clock(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }
  const shortToken = (t) => (t.length > 16 ? t.slice(0, 8) + "…" + t.slice(-6) : t || "(none)");
  const protoName = (p) => (p === "http2" ? "HTTP/2" : "binary");

  let vocabulary = { kinds: [], reasons: [], statuses: [] };
  function statusName(code) {
    const s = vocabulary.statuses.find((x) => x.code === code);
    return s ? s.name : "status " + code;
  }

  // outcome is the entry's status as {ok, text}.
  function outcome(e) {
    if (e.status === 0) return { ok: true, text: e.protocol === "http2" ? "200 accepted" : "accepted" };
    if (e.protocol === "http2") return { ok: false, text: e.http_status + " " + (e.reason || "") };
    return { ok: false, text: e.status + " " + statusName(e.status) };
  }

  // ---- The list.

  const state = {
    entries: [], // newest first
    selected: null, // seq of the entry shown in the detail
    paused: false,
    skipped: 0,
    lost: 0,
    stats: null,
    journal: null,
  };

  function filters() {
    return {
      token: $("f-token").value.trim().toLowerCase(),
      status: $("f-status").value,
      protocol: $("f-protocol").value,
      text: $("f-text").value.trim().toLowerCase(),
    };
  }

  // query is the filters as the query string of the stream and exports.
  function query(f, extra) {
    const q = new URLSearchParams(extra || {});
    if (/^[0-9a-f]+$/.test(f.token) && f.token.length % 2 === 0) q.set("token", f.token);
    if (f.status) q.set("status", f.status);
    if (f.protocol) q.set("protocol", f.protocol);
    return q.toString();
  }

  // haystack is what the free-text search looks in.
  function haystack(e) {
    if (!e._hay) {
      const p = typeof e.payload === "string" ? e.payload : JSON.stringify(e.payload);
      e._hay = [e.token, e.topic, e.push_type, e.apns_id, e.collapse_id, e.reason, e.id, e.protocol, outcome(e).text, p]
        .filter((x) => x !== undefined && x !== null)
        .join("\n")
        .toLowerCase();
    }
    return e._hay;
  }

  function visible(e, f) {
    return !f.text || haystack(e).includes(f.text);
  }

  function row(e) {
    const o = outcome(e);
    const tr = el(
      "tr",
      { tabindex: "0", "data-seq": e.seq, "data-token": e.token, class: o.ok ? "ok" : "fail", "aria-selected": String(e.seq === state.selected) },
      el("td", { class: "time" }, el("time", { datetime: e.received_at }, clock(e.received_at))),
      el("td", { class: "proto-col" }, el("span", { class: "proto proto-" + e.protocol }, protoName(e.protocol))),
      el("td", { class: "token", title: e.token }, shortToken(e.token)),
      el("td", { class: "wide" }, e.topic || "—"),
      el("td", { class: "wide" }, e.push_type || (e.protocol === "binary" ? "cmd " + e.command : "")),
      el("td", { class: "status" }, el("span", { class: "badge " + (o.ok ? "badge-ok" : "badge-fail") }, o.text)),
    );
    tr.dataset.shownAt = String(Date.now());
    return tr;
  }

  let rowsBySeq = new Map();

  // render redraws the list from state.entries, keeping rows already
  // drawn (and their data-shown-at) and the focus.
  function render() {
    const f = filters();
    const body = $("rows");
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#rows tr");
    const keep = new Map();
    const frag = document.createDocumentFragment();
    let shown = 0;
    for (const e of state.entries) {
      if (!visible(e, f)) continue;
      let tr = rowsBySeq.get(e.seq);
      if (!tr) tr = row(e);
      tr.setAttribute("aria-selected", String(e.seq === state.selected));
      keep.set(e.seq, tr);
      frag.append(tr);
      shown++;
    }
    body.replaceChildren(frag);
    rowsBySeq = keep;
    if (focused && focused.isConnected) focused.focus({ preventScroll: true });
    $("empty").hidden = shown > 0;
    $("empty").textContent = state.entries.length
      ? "No notification here matches the search."
      : "No notifications yet. Push to the gateway or the HTTP/2 API and they appear here.";
    const notice = $("notice");
    const parts = [];
    if (state.skipped) parts.push(state.skipped.toLocaleString() + " notifications arrived too fast to show (not sent by the stream; the journal and the export have them)");
    if (state.lost) parts.push(state.lost.toLocaleString() + " left the journal before they could be shown");
    if (state.paused) parts.push("paused: new notifications are counted, not shown");
    notice.hidden = parts.length === 0;
    notice.textContent = parts.join(" · ");
  }

  function applyUpdate(u) {
    if (u.reset) {
      state.entries = [];
      state.skipped = u.skipped;
      state.lost = 0;
      rowsBySeq = new Map();
    } else {
      state.skipped += u.skipped;
      state.lost += u.lost;
    }
    state.stats = u.stats;
    state.journal = u.journal;
    if (!state.paused || u.reset) {
      state.entries = u.entries.concat(state.entries);
      if (state.entries.length > MAX_ROWS) state.entries.length = MAX_ROWS;
    } else {
      state.skipped += u.entries.length;
    }
    render();
    renderStats();
    if (u.entries.some((e) => e.status !== 0)) refreshFaults();
  }

  // ---- The event stream, read with fetch so that it can carry the token.

  let stream = null; // AbortController of the open stream
  let streamGen = 0;

  function setLive(s, text) {
    const live = $("live");
    live.dataset.state = s;
    live.textContent = text;
  }

  function connect() {
    if (stream) stream.abort();
    const ctl = new AbortController();
    stream = ctl;
    const gen = ++streamGen;
    readStream(ctl, gen).catch(() => {});
  }

  async function readStream(ctl, gen) {
    let delay = 1000;
    while (gen === streamGen) {
      let closed = false;
      try {
        setLive("connecting", "connecting…");
        const resp = await fetch("/api/v1/events?" + query(filters(), { limit: STREAM_LIMIT }), {
          headers: headers(),
          signal: ctl.signal,
          cache: "no-store",
        });
        if (resp.status === 401) {
          await askToken(resp);
          continue;
        }
        if (!resp.ok) {
          let msg = resp.statusText;
          try {
            msg = (await resp.json()).error || msg;
          } catch (e) {}
          throw new APIError(resp.status, msg);
        }
        setLive("live", "live");
        delay = 1000;
        closed = await readEvents(resp.body, gen);
      } catch (err) {
        if (ctl.signal.aborted || gen !== streamGen) return;
        setLive("down", err instanceof APIError ? "stream refused: " + err.message : "disconnected, retrying…");
        if (err instanceof APIError && err.status === 400) return; // a filter the server refuses
      }
      if (gen !== streamGen) return;
      if (closed) setLive("down", "server closed; retrying…");
      else if ($("live").dataset.state === "live") setLive("down", "disconnected, retrying…");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }

  // readEvents parses Server-Sent Events until the stream ends; it
  // returns true when the server said it closed.
  async function readEvents(body, gen) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buf += value;
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          let v = i < 0 ? "" : line.slice(i + 1);
          if (v.startsWith(" ")) v = v.slice(1);
          if (field === "event") name = v;
          else if (field === "data") data.push(v);
        }
        if (!data.length || gen !== streamGen) continue;
        const msg = JSON.parse(data.join("\n"));
        if (name === "update") applyUpdate(msg);
        else if (name === "stats") {
          state.stats = msg;
          renderStats();
        } else if (name === "closed") return true;
      }
    }
  }

  // ---- The detail of one notification.

  function selectEntry(seq, focusDetail) {
    const e = state.entries.find((x) => x.seq === seq);
    if (!e) return;
    state.selected = seq;
    for (const tr of $("rows").children) tr.setAttribute("aria-selected", String(Number(tr.dataset.seq) === seq));
    showDetail(e);
    if (focusDetail) $("detail").focus();
  }

  function payloadObject(e) {
    if (e.payload && typeof e.payload === "object") return e.payload;
    return null;
  }

  // alertOf reads aps.alert as {title, subtitle, body} of strings, with
  // localized keys shown as keys.
  function alertOf(aps) {
    const a = aps.alert;
    if (typeof a === "string") return { body: a };
    if (!a || typeof a !== "object") return null;
    const loc = (key, args) => (a[key] ? "⟨" + a[key] + "⟩" + (Array.isArray(a[args]) && a[args].length ? " " + JSON.stringify(a[args]) : "") : undefined);
    return {
      title: typeof a.title === "string" ? a.title : loc("title-loc-key", "title-loc-args"),
      subtitle: typeof a.subtitle === "string" ? a.subtitle : loc("subtitle-loc-key", "subtitle-loc-args"),
      body: typeof a.body === "string" ? a.body : loc("loc-key", "loc-args"),
      localized: Boolean(a["loc-key"] || a["title-loc-key"] || a["subtitle-loc-key"]),
    };
  }

  function banner(e) {
    const p = payloadObject(e);
    const aps = p && p.aps && typeof p.aps === "object" ? p.aps : null;
    const wrap = el("div", { class: "device", "aria-label": "What the device would show" });
    if (!aps) {
      wrap.append(el("div", { class: "silent" }, el("strong", {}, "No aps dictionary"), el("span", {}, "Apple would refuse or ignore this payload: nothing is shown.")));
      return wrap;
    }
    const alert = alertOf(aps);
    const background = e.push_type === "background" || (aps["content-available"] === 1 && !alert);
    if (background || !alert) {
      const why = e.push_type === "background" ? "apns-push-type: background" : aps["content-available"] === 1 ? "content-available: 1 without an alert" : "no alert";
      const parts = [el("strong", {}, background ? "Silent push (background)" : "Nothing shown"), el("span", {}, why + ": the app may be woken, the user sees nothing.")];
      const extras = [];
      if (aps.badge !== undefined) extras.push("badge " + aps.badge);
      if (aps.sound !== undefined) extras.push("sound " + (typeof aps.sound === "string" ? aps.sound : JSON.stringify(aps.sound)));
      if (extras.length) parts.push(el("span", {}, extras.join(" · ")));
      wrap.append(el("div", { class: "silent", "data-kind": "silent" }, ...parts));
      return wrap;
    }
    const app = e.topic || "App";
    const icon = el("span", { class: "app-icon", "aria-hidden": "true" }, (app.split(".").pop() || "A").charAt(0).toUpperCase());
    if (typeof aps.badge === "number" && aps.badge > 0) icon.append(el("span", { class: "app-badge" }, aps.badge > 99 ? "99+" : aps.badge));
    const b = el(
      "div",
      { class: "banner", role: "img", "aria-label": "Banner: " + [alert.title, alert.subtitle, alert.body].filter(Boolean).join(". ") },
      el("div", { class: "banner-head" }, icon, el("span", { class: "app-name" }, app.toUpperCase()), el("span", { class: "when" }, "now")),
      alert.title && el("div", { class: "banner-title" }, alert.title),
      alert.subtitle && el("div", { class: "banner-subtitle" }, alert.subtitle),
      alert.body && el("div", { class: "banner-body" }, alert.body),
    );
    wrap.append(b);
    const meta = [];
    if (aps.badge !== undefined) meta.push("badge " + aps.badge);
    if (aps.sound !== undefined) {
      const s = aps.sound;
      meta.push("sound " + (typeof s === "string" ? s : (s.name || "?") + (s.critical ? " (critical)" : "")));
    } else meta.push("no sound");
    if (aps["mutable-content"] === 1) meta.push("mutable-content: a service extension may change it");
    if (aps.category) meta.push("category " + aps.category);
    if (aps["thread-id"]) meta.push("thread " + aps["thread-id"]);
    if (aps["interruption-level"]) meta.push(aps["interruption-level"]);
    if (alert.localized) meta.push("⟨…⟩: localization keys, looked up on the device");
    wrap.append(el("p", { class: "banner-meta" }, meta.join(" · ")));
    return wrap;
  }

  function kv(rows) {
    const t = el("table", { class: "kv" });
    for (const [k, v] of rows) {
      if (v === undefined) continue;
      t.append(el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, v === null ? "—" : String(v))));
    }
    return t;
  }

  function showDetail(e) {
    const o = outcome(e);
    const d = $("detail");
    const prio = e.priority === 0 ? "(absent)" : e.priority;
    let rows;
    if (e.protocol === "http2") {
      rows = [
        [":method", "POST"],
        [":path", "/3/device/" + e.token],
        ["apns-id", e.apns_id],
        ["apns-topic", e.topic || "(absent)"],
        ["apns-push-type", e.push_type || "(absent)"],
        ["apns-priority", prio],
        ["apns-expiration", e.expiration === null ? "(absent)" : e.expiration],
        ["apns-collapse-id", e.collapse_id || "(absent)"],
        ["authentication", e.auth === "token" ? "provider token (JWT)" : e.auth || "—"],
        ["connection", e.conn],
        [":status (answer)", e.http_status],
        ["reason (answer)", e.reason || "—"],
      ];
    } else {
      rows = [
        ["command", e.command],
        ["identifier", e.command === 0 ? "—" : e.id],
        ["item 1: device token", e.token],
        ["item 3: identifier", e.command === 2 ? e.id : undefined],
        ["expiry", e.command === 0 ? undefined : e.expiry === 0 ? "0 (deliver once)" : e.expiry + " (" + new Date(e.expiry * 1000).toISOString() + ")"],
        ["item 5: priority", e.command === 2 ? prio : undefined],
        ["connection", e.conn],
        ["status (answer)", e.status === 0 ? "none: accepted" : e.status + " " + statusName(e.status)],
      ];
    }
    const payloadText = typeof e.payload === "string" ? e.payload : JSON.stringify(e.payload, null, 2);
    d.replaceChildren(
      el(
        "div",
        { class: "detail-head" },
        el("h2", {}, protoName(e.protocol) + " · #" + e.seq),
        el("button", { type: "button", class: "close", "aria-label": "Close detail", onclick: closeDetail }, "✕"),
        el("span", { class: "badge " + (o.ok ? "badge-ok" : "badge-fail") }, o.text),
      ),
      el("p", { class: "hint" }, "Received " + new Date(e.received_at).toLocaleString() + " · token " + e.token),
      el("h3", {}, "On the device"),
      banner(e),
      el("h3", {}, "Payload (" + new TextEncoder().encode(typeof e.payload === "string" ? e.payload : JSON.stringify(e.payload)).length + " bytes)"),
      el("pre", { class: "json payload" }, payloadText),
      el("h3", {}, e.protocol === "http2" ? "Headers" : "Frame items"),
      kv(rows),
    );
    d.dataset.seq = String(e.seq);
    d.classList.add("open");
  }

  function closeDetail() {
    state.selected = null;
    const d = $("detail");
    d.classList.remove("open");
    delete d.dataset.seq;
    d.replaceChildren(el("p", { class: "placeholder" }, "Select a notification to see its payload, headers and the banner a device would show."));
    render();
    const first = $("rows").querySelector("tr");
    if (first) first.focus();
  }

  // ---- Counters.

  function renderStats() {
    const st = state.stats;
    if (!st) return;
    const j = state.journal || { entries: 0, size: 0 };
    const items = [
      ["Accepted", st.accepted, "ok"],
      ["Rejected", st.rejected, st.rejected ? "fail" : ""],
      ["Binary conns", st.connections_open, ""],
      ["HTTP/2 conns", st.http2.connections_open, ""],
      ["Journal", j.entries.toLocaleString() + " / " + j.size.toLocaleString(), ""],
    ];
    $("summary").replaceChildren(...items.flatMap(([k, v, c]) => [el("div", { class: "pill " + c }, el("dt", {}, k), el("dd", {}, typeof v === "number" ? v.toLocaleString() : v))]));
    const flat = [];
    const walk = (o, prefix) => {
      for (const [k, v] of Object.entries(o)) {
        if (v && typeof v === "object") walk(v, prefix + k + ".");
        else flat.push([prefix + k, v]);
      }
    };
    walk(st, "");
    $("stats").replaceChildren(...flat.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, Number(v).toLocaleString())]));
  }

  // ---- Faults.

  function memberInput(m) {
    const id = "fm-" + m.name;
    let input;
    if (m.name === "protocol") {
      input = el("select", { id, name: m.name }, el("option", { value: "" }, "—"), el("option", { value: "binary" }, "binary"), el("option", { value: "http2" }, "http2"));
    } else {
      input = el("input", {
        id,
        name: m.name,
        type: m.type === "string" ? "text" : "number",
        step: m.type === "integer" ? "1" : m.type === "number" ? "any" : undefined,
        list: m.name === "reason" ? "reasons" : undefined,
        spellcheck: "false",
        "aria-describedby": id + "-hint",
        required: m.required,
      });
    }
    return el("label", { class: "member" }, el("span", {}, m.name + (m.required ? " *" : "")), input, el("small", { id: id + "-hint" }, m.hint || ""));
  }

  function faultKind() {
    return vocabulary.kinds.find((k) => k.action === $("fault-action").value);
  }

  function faultDoc() {
    const k = faultKind();
    if (!k) return null;
    const doc = { action: k.action };
    for (const m of k.members) {
      const input = $("fm-" + m.name);
      const v = input ? input.value.trim() : "";
      if (v === "") continue;
      if (m.type === "integer") doc[m.name] = /^-?\d+$/.test(v) ? parseInt(v, 10) : v;
      else if (m.type === "number") doc[m.name] = isFinite(Number(v)) ? Number(v) : v;
      else doc[m.name] = v;
    }
    return doc;
  }

  function showFaultJSON() {
    $("fault-json").textContent = JSON.stringify(faultDoc());
  }

  function buildFaultForm() {
    const k = faultKind();
    $("fault-about").textContent = k ? k.about : "";
    $("fault-members").replaceChildren(...(k ? k.members.map(memberInput) : []));
    $("fault-error").hidden = true;
    showFaultJSON();
  }

  async function refreshFaults() {
    try {
      const faults = await api("GET", "/api/v1/faults");
      const body = $("faults");
      body.replaceChildren(
        ...faults.map((f) =>
          el(
            "tr",
            { "data-fault": f.id },
            el("td", {}, f.id),
            el("td", {}, el("code", {}, JSON.stringify(f.fault))),
            el("td", { class: "fired" }, f.fired),
            el("td", {}, el("button", { type: "button", class: "small", "aria-label": "Remove fault " + f.id, onclick: () => removeFault(f.id) }, "Remove")),
          ),
        ),
      );
      $("faults-empty").hidden = faults.length > 0;
      $("fault-count").textContent = faults.length ? String(faults.length) : "";
    } catch (err) {
      showError("fault-error", err);
    }
  }

  async function removeFault(id) {
    try {
      await api("DELETE", "/api/v1/faults/" + id);
    } catch (err) {
      showError("fault-error", err);
    }
    refreshFaults();
  }

  function showError(id, err) {
    const p = $(id);
    if (!err) {
      p.hidden = true;
      p.textContent = "";
      return;
    }
    p.hidden = false;
    p.textContent = err.message || String(err);
  }

  // ---- Feedback and devices.

  async function refreshDevices() {
    try {
      const devs = await api("GET", "/api/v1/devices");
      $("devices").replaceChildren(
        ...devs.map((d) =>
          el(
            "tr",
            {},
            el("td", { class: "token", title: d.token }, shortToken(d.token)),
            el("td", {}, d.topic || "any"),
            el("td", {}, d.unregistered_at || "—"),
            el("td", {}, el("button", { type: "button", class: "small", "aria-label": "Forget device " + d.token, onclick: () => removeDevice(d.token) }, "Forget")),
          ),
        ),
      );
      $("devices-empty").hidden = devs.length > 0;
    } catch (err) {
      showError("dev-error", err);
    }
  }

  async function removeDevice(tok) {
    try {
      await api("DELETE", "/api/v1/devices/" + encodeURIComponent(tok));
    } catch (err) {
      showError("dev-error", err);
    }
    refreshDevices();
  }

  // ---- Tabs and keyboard.

  const tabs = () => Array.from(document.querySelectorAll('[role="tab"]'));

  function selectTab(tab, focus) {
    for (const t of tabs()) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    if (tab.id === "tab-faults") refreshFaults();
    if (tab.id === "tab-devices") refreshDevices();
  }

  function wire() {
    for (const t of tabs()) {
      t.addEventListener("click", () => selectTab(t, false));
      t.addEventListener("keydown", (ev) => {
        const all = tabs();
        const i = all.indexOf(t);
        let next = null;
        if (ev.key === "ArrowRight") next = all[(i + 1) % all.length];
        else if (ev.key === "ArrowLeft") next = all[(i + all.length - 1) % all.length];
        else if (ev.key === "Home") next = all[0];
        else if (ev.key === "End") next = all[all.length - 1];
        if (next) {
          ev.preventDefault();
          selectTab(next, true);
        }
      });
    }

    const rows = $("rows");
    rows.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr");
      if (tr) selectEntry(Number(tr.dataset.seq), false);
    });
    rows.addEventListener("keydown", (ev) => {
      const tr = ev.target.closest("tr");
      if (!tr) return;
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        selectEntry(Number(tr.dataset.seq), ev.key === "Enter" && window.matchMedia("(max-width: 900px)").matches);
      } else if (ev.key === "ArrowDown" || ev.key === "j") {
        ev.preventDefault();
        if (tr.nextElementSibling) tr.nextElementSibling.focus();
      } else if (ev.key === "ArrowUp" || ev.key === "k") {
        ev.preventDefault();
        if (tr.previousElementSibling) tr.previousElementSibling.focus();
      }
    });
    $("detail").addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") closeDetail();
    });

    let refilter = null;
    const restream = () => {
      clearTimeout(refilter);
      refilter = setTimeout(connect, 300);
      updateExports();
    };
    $("f-token").addEventListener("input", restream);
    $("f-status").addEventListener("change", restream);
    $("f-protocol").addEventListener("change", restream);
    $("f-text").addEventListener("input", () => render());
    $("filters").addEventListener("submit", (ev) => ev.preventDefault());

    $("pause").addEventListener("click", () => {
      state.paused = !state.paused;
      $("pause").setAttribute("aria-pressed", String(state.paused));
      $("pause").textContent = state.paused ? "Resume" : "Pause";
      if (!state.paused) connect(); // start over from the newest
      render();
    });
    $("clear-journal").addEventListener("click", async () => {
      if (!confirm("Empty the journal? The counters stay.")) return;
      try {
        await api("DELETE", "/api/v1/notifications");
      } catch (err) {
        showError("token-error", err);
      }
    });

    for (const id of ["export-jsonl", "export-csv"]) {
      $(id).addEventListener("click", async (ev) => {
        if (!adminToken) return; // the link works as it is
        ev.preventDefault(); // a link cannot carry the token: fetch it
        const a = ev.currentTarget;
        try {
          const resp = await fetch(a.href, { headers: headers(), cache: "no-store" });
          if (!resp.ok) throw new APIError(resp.status, (await resp.text()).slice(0, 300));
          const url = URL.createObjectURL(await resp.blob());
          const tmp = el("a", { href: url, download: a.getAttribute("download") });
          document.body.append(tmp);
          tmp.click();
          tmp.remove();
          setTimeout(() => URL.revokeObjectURL(url), 10000);
        } catch (err) {
          showError("token-error", err);
        }
      });
    }

    $("fault-action").addEventListener("change", buildFaultForm);
    $("fault-members").addEventListener("input", showFaultJSON);
    $("fault-members").addEventListener("change", showFaultJSON);
    $("fault-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showError("fault-error", null);
      try {
        await api("POST", "/api/v1/faults", faultDoc());
        for (const i of $("fault-members").querySelectorAll("input, select")) i.value = "";
        showFaultJSON();
      } catch (err) {
        showError("fault-error", err);
      }
      refreshFaults();
    });
    $("faults-clear").addEventListener("click", async () => {
      try {
        await api("DELETE", "/api/v1/faults");
      } catch (err) {
        showError("fault-error", err);
      }
      refreshFaults();
    });

    $("feedback-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const out = $("fb-result");
      const time = $("fb-time").value.trim() || new Date().toISOString().replace(/\.\d+Z$/, "Z");
      try {
        const r = await api("POST", "/api/v1/feedback", [{ token: $("fb-token").value.trim(), time }]);
        out.className = "result";
        out.textContent = "Queued " + r.queued + "; " + r.pending + " waiting for the next feedback reader.";
      } catch (err) {
        out.className = "result error";
        out.textContent = err.message;
      }
    });
    $("device-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showError("dev-error", null);
      const d = { token: $("dev-token").value.trim() };
      if ($("dev-topic").value.trim()) d.topic = $("dev-topic").value.trim();
      if ($("dev-unreg").value.trim()) d.unregistered_at = $("dev-unreg").value.trim();
      try {
        await api("POST", "/api/v1/devices", d);
        ev.target.reset();
      } catch (err) {
        showError("dev-error", err);
      }
      refreshDevices();
    });
    $("devices-clear").addEventListener("click", async () => {
      try {
        await api("DELETE", "/api/v1/devices");
      } catch (err) {
        showError("dev-error", err);
      }
      refreshDevices();
    });
  }

  function updateExports() {
    const f = filters();
    // The list (and its export) filters by accepted or rejected only.
    if (f.status !== "accepted" && f.status !== "rejected") f.status = f.status ? "rejected" : "";
    $("export-jsonl").href = "/api/v1/notifications?" + query(f, { format: "jsonl" });
    $("export-csv").href = "/api/v1/notifications?" + query(f, { format: "csv" });
  }

  async function start() {
    wire();
    updateExports();
    connect();
    try {
      vocabulary = await api("GET", "/api/v1/fault-kinds");
    } catch (err) {
      showError("fault-error", err);
      return;
    }
    const status = $("f-status");
    status.append(
      el("optgroup", { label: "HTTP/2 reason" }, ...vocabulary.reasons.map((r) => el("option", { value: r.name }, r.name + " (" + r.code + ")"))),
      el("optgroup", { label: "Binary status" }, ...vocabulary.statuses.map((s) => el("option", { value: String(s.code) }, s.code + " " + s.name))),
    );
    document.body.append(el("datalist", { id: "reasons" }, ...vocabulary.reasons.map((r) => el("option", { value: r.name }))));
    $("fault-action").replaceChildren(...vocabulary.kinds.map((k) => el("option", { value: k.action }, k.action)));
    buildFaultForm();
    refreshFaults();
    render();
  }

  start();
})();

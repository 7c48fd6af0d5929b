/* The phone simulator: a basic phone talking to the line through /simulator/api/send,
   and the outbox polled from /simulator/api/outbox. Vanilla JS, no external resources;
   every text goes into the DOM through textContent. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("sim-data").textContent);
  var SHORT_CODE = DATA.short_code;
  var BASE = location.pathname.replace(/\/+$/, "");  // ".../simulator"
  var POLL_MS = 1500;

  var $ = function (id) { return document.getElementById(id); };
  var modeEl = $("mode"), phoneEl = $("phone"), contactEl = $("as-contact"), entry = $("entry");
  var screenBody = $("screen-body"), sbMode = $("sb-mode"), sbUnread = $("sb-unread"), hint = $("hint");
  var sendBtn = $("send"), outboxEl = $("outbox"), outboxState = $("outbox-state"), onlyMine = $("only-mine");

  var contactsById = {}, contactsByPhone = {};
  DATA.contacts.forEach(function (c) { contactsById[c.id] = c; contactsByPhone[c.phone] = c; });

  var state = {
    busy: false,
    ussd: { sessionId: null, inputs: [], text: "", ended: false, error: false },
    call: { sid: null, items: [], gather: null, silent: null, ended: false, error: "" },
    threads: {},          // phone -> [{dir: "in"|"out"|"error", text, meta, time}]
    unread: {},           // phone -> count
    pendingInline: [],    // [{phone, body}] twilio inline replies, to skip if the outbox repeats them
    outbox: [],           // messages, oldest first
    lastId: 0,
    outboxLoaded: false
  };

  // ------------------------------------------------------------ helpers
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function now() { var d = new Date(); return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2); }
  function mode() { return modeEl.value; }
  function modeInfo() { return DATA.modes[mode()] || { label: mode(), channel: "sms", inline: false }; }
  function isSms() { return modeInfo().channel === "sms"; }
  function isCall() { return modeInfo().channel === "voice"; }
  function phone() { return normalisePhone(phoneEl.value) || ""; }

  function normalisePhone(raw) {
    var d = String(raw || "").replace(/[\s().\-]/g, "");
    if (d.indexOf("00") === 0) d = "+" + d.slice(2);
    else if (d.charAt(0) === "0") d = "+855" + d.slice(1);
    return /^\+\d{6,15}$/.test(d) ? d : null;
  }
  function randomPhone() {
    var s = "+8559" + "1279".charAt(Math.floor(Math.random() * 4));
    for (var i = 0; i < 6; i++) s += Math.floor(Math.random() * 10);
    return s;
  }
  function save() {
    try {
      localStorage.setItem("sim.mode", mode());
      if (!contactEl.value) localStorage.setItem("sim.villager", phoneEl.value);
    } catch (e) { /* storage may be off */ }
  }
  function load(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }

  // TwiML -> message texts (entities unescaped by the XML parser).
  function twimlMessages(body) {
    if (!body || !body.trim()) return [];
    var doc = new DOMParser().parseFromString(body, "application/xml");
    if (doc.getElementsByTagName("parsererror").length) return [body];
    var out = [], nodes = doc.getElementsByTagName("Message");
    for (var i = 0; i < nodes.length; i++) out.push(nodes[i].textContent);
    return out;
  }
  // "CON text" / "END text" -> {ended, text}; anything else ends the session as a handset would.
  function parseUssd(body) {
    var b = body || "", word = b.slice(0, 3), rest = b.slice(3);
    if ((word === "CON" || word === "END") && (!rest || /^[ \r\n]/.test(rest))) {
      return { ended: word === "END", text: rest.charAt(0) === " " ? rest.slice(1) : rest.replace(/^[\r\n]+/, "") };
    }
    return { ended: true, text: b };
  }

  function api(path, options) {
    return fetch(BASE + path, options).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = JSON.parse(t); } catch (e) { /* not JSON */ }
        if (!r.ok || !data) {
          throw new Error("HTTP " + r.status + ((data && data.error) ? ": " + data.error : (t ? ": " + t.slice(0, 200) : "")));
        }
        return data;
      });
    });
  }
  function send(payload) {
    return api("/api/send", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload)
    });
  }

  function thread(p) { return state.threads[p] || (state.threads[p] = []); }
  function addToThread(p, item) {
    item.time = item.time || now();
    thread(p).push(item);
  }

  // ------------------------------------------------------------ rendering
  function render() {
    var sms = isSms();
    var p = phone();
    sbMode.textContent = (sms ? "SMS" : isCall() ? "Call" : "USSD") + " " + (p || "no number");
    if (sms) state.unread[p] = 0;
    var n = state.unread[p] || 0;
    sbUnread.textContent = n ? "\u2709 " + n : "";
    sbUnread.title = n ? n + " new SMS: switch to an SMS mode to read" : "";
    $("entry-label").textContent = sms ? "Message" : isCall() ? (state.call.sid ? "Keys (# sends them)" : "The line")
      : (state.ussd.sessionId ? "Answer" : "Number to dial");
    entry.setAttribute("inputmode", sms ? "text" : "tel");
    $("drop").disabled = sms || (isCall() ? !state.call.sid : !state.ussd.sessionId);
    $("drop").textContent = isCall() ? "Stay silent" : "Drop signal";
    sendBtn.disabled = state.busy;
    sendBtn.textContent = sms ? "Send" : isCall() ? (state.call.sid ? "Send keys" : "Call") : (state.ussd.sessionId ? "Send" : "Call");
    clear(screenBody);
    if (sms) renderThread(p); else if (isCall()) renderCall(); else renderUssd();
    renderOutbox();
  }

  function renderUssd() {
    var u = state.ussd;
    screenBody.classList.remove("thread");
    if (state.busy) { screenBody.appendChild(el("p", "ussd-wait", "Please wait\u2026")); return; }
    if (!u.text) {
      screenBody.appendChild(el("p", "idle", "Dial " + SHORT_CODE + " and press Call."));
      return;
    }
    screenBody.appendChild(el("div", "ussd-text" + (u.error ? " error" : ""), u.text));
    if (u.sessionId) {
      var size = u.screen ? u.screen.units + "/" + u.screen.limit + (u.screen.encoding === "ucs2" ? " UCS-2" : "") +
        " characters \u00b7 " : "";
      screenBody.appendChild(el("div", "ussd-meta", size + "reply below"));
    } else if (u.ended) {
      screenBody.appendChild(el("div", "ussd-meta", "(session over)"));
    }
  }

  function renderThread(p) {
    screenBody.classList.add("thread");
    var items = thread(p);
    if (!items.length) {
      screenBody.appendChild(el("p", "idle", "No messages with the line yet. Type one and press Send."));
    }
    items.forEach(function (m) {
      var b = el("div", "bubble " + m.dir);
      b.appendChild(el("span", "who", m.dir === "out" ? "Me" : (m.dir === "error" ? "Error" : "Line")));
      b.appendChild(el("span", "body", m.text));
      b.appendChild(el("span", "meta", m.time + (m.meta ? " \u00b7 " + m.meta : "")));
      screenBody.appendChild(b);
    });
    screenBody.scrollTop = screenBody.scrollHeight;
  }

  function contactLabel(m) {
    if (!m.contact) return contactsByPhone[m.to] ? contactsByPhone[m.to].id : "";
    var c = contactsById[m.contact];
    return c ? m.contact + " \u2014 " + c.name : m.contact;
  }

  function renderOutbox() {
    clear(outboxEl);
    var p = phone(), shown = 0;
    for (var i = state.outbox.length - 1; i >= 0 && shown < 300; i--) {
      var m = state.outbox[i];
      if (onlyMine.checked && m.to !== p) continue;
      shown++;
      var li = el("li", m.to === p ? "mine" : "");
      var head = el("div", "ob-head");
      head.appendChild(el("span", "ob-id", "#" + m.id));
      head.appendChild(el("span", "ob-to", "to " + m.to));
      var who = contactLabel(m);
      if (who) head.appendChild(el("span", "ob-contact", who));
      li.appendChild(head);
      li.appendChild(el("div", "ob-body", m.body));
      var time = m.created_at ? String(m.created_at).replace("T", " ").slice(0, 19) : "";
      li.appendChild(el("div", "ob-meta", [m.purpose, m.provider, m.status, time].filter(Boolean).join(" \u00b7 ")));
      outboxEl.appendChild(li);
    }
    if (!shown) outboxEl.appendChild(el("li", "empty", onlyMine.checked ? "Nothing sent to this phone yet." : "Nothing sent yet."));
  }

  function setHint(text) { hint.textContent = text || ""; }

  // ------------------------------------------------------------ USSD
  function ussdReset(text, ended, error) {
    state.ussd = { sessionId: null, inputs: [], text: text || "", ended: !!ended, error: !!error };
  }

  function ussdAnswer(res, first) {
    if (res.status !== 200) {
      ussdReset("Connection problem or invalid MMI code.\n\nHTTP " + res.status + ": " + (res.body || "").trim(), true, true);
      return;
    }
    var a = parseUssd(res.body);
    if (a.ended) {
      ussdReset(a.text, true, false);
      entry.value = SHORT_CODE;
    } else {
      state.ussd.text = a.text;
      state.ussd.screen = res.screen || null;  // units, limit and encoding, as the line's check counts them
      state.ussd.ended = false;
      state.ussd.error = false;
      if (first) state.ussd.sessionId = res.session_id;
    }
  }

  function ussdCall() {
    var p = phone();
    var typed = entry.value.trim();
    if (!state.ussd.sessionId) {
      if (typed && typed !== SHORT_CODE) {
        ussdReset(/^\*.*#$/.test(typed) ? "Unknown service code " + typed + ".\nDial " + SHORT_CODE + "."
          : "Dial " + SHORT_CODE + " to reach the line, or choose an SMS mode to text it.", true, true);
        render();
        return;
      }
      ussdReset("", false, false);
      run(send({ mode: "ussd", phone: p, text: "" }), function (res) { entry.value = ""; ussdAnswer(res, true); },
        function (err) { ussdReset("Connection problem.\n" + err.message, true, true); });
      return;
    }
    if (!typed) { setHint("Type an answer with the keypad first."); return; }
    var inputs = state.ussd.inputs.concat([typed]);
    run(send({ mode: "ussd", phone: p, text: typed, session_id: state.ussd.sessionId, full_text: inputs.join("*") }),
      function (res) { state.ussd.inputs = inputs; entry.value = ""; ussdAnswer(res, false); },
      function (err) { ussdReset("Connection problem.\n" + err.message, true, true); });
  }

  function ussdHangUp(why) {
    if (!state.ussd.sessionId) return false;
    ussdReset(why, false, false);  // abandoned here; the line still holds the session
    entry.value = SHORT_CODE;
    return true;
  }

  // ------------------------------------------------------------ calls (TwiML: words said, clips played)
  function renderCall() {
    var c = state.call;
    screenBody.classList.remove("thread");
    if (state.busy) { screenBody.appendChild(el("p", "ussd-wait", "Please wait\u2026")); return; }
    if (c.error) { screenBody.appendChild(el("div", "ussd-text error", c.error)); return; }
    if (!c.items.length && !c.sid) { screenBody.appendChild(el("p", "idle", "Press Call to call the line.")); return; }
    c.items.forEach(function (item) {
      if (item.play !== undefined) screenBody.appendChild(el("p", "call-clip", "\u266a " + (item.words || item.play)));
      else screenBody.appendChild(el("p", "call-say", item.say));
    });
    screenBody.appendChild(el("div", "ussd-meta", c.ended ? "(the line hung up)" :
      (c.gather && c.gather.one ? "press one key" : "type the keys, then #")));
  }

  // Say the words (the browser's own speech, where it has one) and play the clips, one after another.
  var speaking = 0;
  function play(items) {
    var run = ++speaking;
    if (window.speechSynthesis) window.speechSynthesis.cancel();
    (function next(i) {
      if (run !== speaking || i >= items.length) return;
      var item = items[i];
      if (item.play !== undefined) {
        var audio = new Audio(item.play);
        audio.addEventListener("ended", function () { next(i + 1); });
        audio.addEventListener("error", function () { next(i + 1); });
        audio.play().catch(function () { next(i + 1); });
      } else if (window.speechSynthesis && window.SpeechSynthesisUtterance) {
        var u = new SpeechSynthesisUtterance(item.say);
        if (item.lang) u.lang = item.lang;
        u.onend = function () { next(i + 1); };
        u.onerror = function () { next(i + 1); };
        window.speechSynthesis.speak(u);
      } else {
        next(i + 1);
      }
    })(0);
  }

  function callReset(error) {
    speaking++;
    if (window.speechSynthesis) window.speechSynthesis.cancel();
    state.call = { sid: null, items: [], gather: null, silent: null, ended: false, error: error || "" };
  }

  function callAnswer(res) {
    if (res.status !== 200 || !res.call) {
      callReset("The line refused the call.\n\nHTTP " + res.status + ": " + (res.body || "").trim());
      return;
    }
    var c = state.call;
    c.sid = res.session_id;
    c.items = res.call.items;
    c.gather = res.call.gather;
    c.silent = res.call.silent;
    c.ended = res.call.ended;
    play(c.items);
    if (c.ended) c.sid = null;
  }

  function callSend(keys, action) {
    var c = state.call;
    run(send({ mode: mode(), phone: phone(), text: keys, session_id: c.sid, action: action }),
      function (res) { entry.value = ""; callAnswer(res); },
      function (err) { callReset("Connection problem.\n" + err.message); });
  }

  function callKey(k) {
    var c = state.call;
    if (!c.sid || !c.gather || state.busy) return false;
    if (k === "#") { callSend(entry.value, c.gather.action); return true; }
    if (c.gather.one && !entry.value) { callSend(k, c.gather.action); return true; }
    return false;
  }

  function callHangUp() {
    var c = state.call;
    if (!c.sid) return false;
    var sid = c.sid;
    callReset("");
    send({ mode: mode(), phone: phone(), text: "completed", session_id: sid, action: "status" }).catch(function () {});
    state.call.items = [{ say: "You hung up." }];
    return true;
  }

  // ------------------------------------------------------------ SMS
  function smsSend() {
    var p = phone(), text = entry.value, m = mode();
    if (!text.trim()) { setHint("Type a message first."); return; }
    var info = modeInfo();
    addToThread(p, { dir: "out", text: text, meta: info.label });
    entry.value = "";
    run(send({ mode: m, phone: p, text: text }), function (res) {
      if (res.status !== 200) {
        addToThread(p, { dir: "error", text: "HTTP " + res.status + ": " + (res.body || "").trim() });
        return;
      }
      if (info.inline) {
        var msgs = twimlMessages(res.body);
        msgs.forEach(function (t) {
          addToThread(p, { dir: "in", text: t, meta: "inline reply" });
          state.pendingInline.push({ phone: p, body: t });
        });
        if (!msgs.length) setHint("The line answered with no inline reply (an SMS may still come via the outbox).");
      } else {
        setHint("Delivered to the line; its reply comes through the outbox.");
      }
    }, function (err) {
      addToThread(p, { dir: "error", text: "Not sent: " + err.message });
    });
  }

  // ------------------------------------------------------------ actions
  function run(promise, ok, fail) {
    state.busy = true;
    setHint("");
    render();
    promise.then(ok, fail).catch(function (err) { setHint("Error: " + err.message); }).then(function () {
      state.busy = false;
      render();
      entry.focus();
    });
  }

  function onSend() {
    if (state.busy) return;
    if (!phone()) { setHint("Give this phone a number like +85591234567."); phoneEl.focus(); return; }
    if (isSms()) smsSend();
    else if (isCall()) {
      if (!state.call.sid) { callReset(""); callSend("", null); }
      else if (entry.value && state.call.gather) callSend(entry.value, state.call.gather.action);
      else setHint("Type the keys first (or press one on the keypad).");
    } else ussdCall();
  }

  function onEnd() {
    if (isCall()) { entry.value = ""; if (callHangUp()) render(); return; }
    if (entry.value && entry.value !== SHORT_CODE) { entry.value = ""; entry.focus(); return; }
    if (!isSms() && ussdHangUp("Cancelled.")) { render(); return; }
    entry.value = "";
    if (!isSms() && !state.busy) { ussdReset("", false, false); render(); }
  }

  function onDrop() {
    if (isCall()) {
      if (state.call.sid && state.call.silent) callSend("", state.call.silent);
      return;
    }
    if (ussdHangUp("Signal lost.\n\nThe line was not told. Dial " + SHORT_CODE + " again to continue where you stopped.")) {
      setHint("Session dropped without ending.");
      render();
    }
  }

  function phoneChanged() {
    var p = normalisePhone(phoneEl.value);
    if (p && p !== phoneEl.value) phoneEl.value = p;
    var c = p && contactsByPhone[p];
    contactEl.value = c ? c.id : "";
    if (ussdHangUp("Phone changed: the session was abandoned.")) { /* nothing else */ }
    setHint(p ? "" : "That is not a number like +85591234567.");
    save();
    render();
  }

  function modeChanged() {
    ussdHangUp("Mode changed: the session was abandoned.");
    callHangUp();
    if (!isSms() && !isCall()) { ussdReset("", false, false); entry.value = SHORT_CODE; } else if (entry.value === SHORT_CODE) entry.value = "";
    setHint("");
    save();
    render();
  }

  // ------------------------------------------------------------ outbox polling
  function takeInline(m) {
    for (var i = 0; i < state.pendingInline.length; i++) {
      var x = state.pendingInline[i];
      if (x.phone === m.to && x.body === m.body) { state.pendingInline.splice(i, 1); return true; }
    }
    return false;
  }

  function poll() {
    api("/api/outbox?after=" + state.lastId).then(function (data) {
      var msgs = data.messages || [];
      var changed = msgs.length > 0, p = phone();
      msgs.forEach(function (m) {
        if (m.id > state.lastId) state.lastId = m.id;
        state.outbox.push(m);
        if (!m.to || takeInline(m)) return;
        addToThread(m.to, { dir: "in", text: m.body, meta: [m.purpose, m.provider].filter(Boolean).join(" \u00b7 "),
          time: m.created_at ? String(m.created_at).slice(11, 16) : "" });
        if (state.outboxLoaded && !(isSms() && m.to === p)) state.unread[m.to] = (state.unread[m.to] || 0) + 1;
      });
      if (state.outbox.length > 2000) state.outbox.splice(0, state.outbox.length - 2000);
      outboxState.textContent = "";
      if (msgs.length >= 200) { setTimeout(poll, 0); if (changed) render(); return; }
      state.outboxLoaded = true;
      if (changed) render();
      setTimeout(poll, POLL_MS);
    }, function (err) {
      outboxState.textContent = "Outbox unavailable (" + err.message + "); retrying\u2026";
      setTimeout(poll, POLL_MS * 4);
    });
  }

  function reloadOutbox() {
    // Rebuilds the panel with fresh statuses; threads keep what they already hold.
    var all = [];
    function page(after) {
      return api("/api/outbox?after=" + after).then(function (d) {
        var msgs = d.messages || [];
        all = all.concat(msgs);
        return msgs.length >= 200 ? page(msgs[msgs.length - 1].id) : all;
      });
    }
    outboxState.textContent = "Reloading\u2026";
    page(0).then(function () {
      // Newer ones are left to the poll, which also files them in the threads.
      state.outbox = all.filter(function (m) { return m.id <= state.lastId; }).slice(-2000);
      outboxState.textContent = "";
      render();
    }, function (err) { outboxState.textContent = "Reload failed (" + err.message + ")"; });
  }

  // ------------------------------------------------------------ wiring
  Array.prototype.forEach.call(document.querySelectorAll(".key.digit"), function (b) {
    b.addEventListener("click", function () {
      var k = b.getAttribute("data-key");
      if (isCall()) {
        if (!callKey(k)) entry.value += k;
        entry.focus();
        return;
      }
      if (!isSms() && !state.ussd.sessionId && entry.value === SHORT_CODE) entry.value = "";
      entry.value += k;
      entry.focus();
    });
  });
  sendBtn.addEventListener("click", onSend);
  $("end").addEventListener("click", onEnd);
  $("drop").addEventListener("click", onDrop);
  entry.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); onSend(); }
    else if (e.key === "Escape") { e.preventDefault(); onEnd(); }
  });
  modeEl.addEventListener("change", modeChanged);
  phoneEl.addEventListener("change", phoneChanged);
  $("new-number").addEventListener("click", function () { phoneEl.value = randomPhone(); phoneChanged(); });
  contactEl.addEventListener("change", function () {
    var c = contactsById[contactEl.value];
    phoneEl.value = c ? c.phone : (load("sim.villager") || randomPhone());
    if (!c && contactsByPhone[phoneEl.value]) phoneEl.value = randomPhone();
    phoneChanged();
    if (c) setHint("You are " + c.name + ". Reply to an alert with e.g. OK 123 (SMS modes).");
  });
  onlyMine.addEventListener("change", renderOutbox);
  // The settings form never submits (Enter in the number field must not reload the page).
  $("settings").addEventListener("submit", function (event) { event.preventDefault(); });
  $("outbox-reload").addEventListener("click", reloadOutbox);

  // Start: the last mode and villager number survive a reload.
  var savedMode = load("sim.mode");
  if (savedMode && Object.prototype.hasOwnProperty.call(DATA.modes, savedMode)) modeEl.value = savedMode;
  phoneEl.value = normalisePhone(load("sim.villager") || "") || randomPhone();
  if (contactsByPhone[phoneEl.value]) contactEl.value = contactsByPhone[phoneEl.value].id;
  if (!isSms() && !isCall()) entry.value = SHORT_CODE;
  save();
  render();
  poll();
}());

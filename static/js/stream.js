/* The live stream client (/ws/stream/), loaded by base.html for logged-in users.
 *
 *   const off = OMS.stream.subscribe(["orders", "quotes:ACME"], ({channel, event, data}) => …);
 *   OMS.stream.unsubscribe(["quotes:ACME"], handler);   // or off()
 *   OMS.stream.on("open" | "close" | "state" | "subscribed" | "error" | "heartbeat" |
 *                 "resync" | <event>, fn);
 *
 * Several components may subscribe to the same channel; the server is asked once and each
 * handler gets every message. After a reconnect (exponential backoff with jitter, capped at
 * ~15 s) every channel is subscribed again and "resync" is emitted ({lastSeq}): pushes sent
 * while the socket was down are not replayed, so every component that shows live state
 * re-reads it over REST on "resync" (a page that lost its socket then shows what a fresh
 * load would). Pushes carry `seq` (per user); OMS.stream.lastSeq() is the highest seen, for
 * GET /api/v1/stream/missed?after=<seq>. The #live-status dot shows connecting | open | closed.
 */
(function () {
  "use strict";

  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 15000;
  const UNAUTHENTICATED_RETRY_MS = 60000; // logged out: retry slowly, a new login may come
  const DEFAULT_SILENCE_MS = 60000; // no heartbeat yet: assume the server's default (20 s)
  const CLOSE_NOT_AUTHENTICATED = 4401;

  const channelHandlers = new Map(); // channel → Set(handler)
  const eventHandlers = new Map(); // event → Set(handler)
  let socket = null;
  let state = "connecting";
  let attempt = 0;
  let reconnectTimer = null;
  let watchdogTimer = null;
  let silenceLimitMs = DEFAULT_SILENCE_MS;
  let unreadCount = null;
  let openedBefore = false; // the first open is a fresh load, every later one a reconnect
  let lastSeq = 0;

  function emit(event, payload) {
    const set = eventHandlers.get(event);
    if (!set) return;
    Array.from(set).forEach(function (fn) {
      try { fn(payload); } catch (err) { console.error("OMS.stream handler for", event, err); }
    });
  }

  function setState(next) {
    state = next;
    const dot = document.getElementById("live-status");
    if (dot) {
      dot.dataset.state = next;
      dot.title = "Live stream: " + next;
    }
    emit("state", { state: next });
  }

  function streamUrl() {
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + window.location.host + "/ws/stream/";
  }

  function send(obj) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(obj));
      return true;
    }
    return false; // sent again on (re)connect
  }

  function resetWatchdog() {
    clearTimeout(watchdogTimer);
    // A half-open connection never fires "close": silence longer than the heartbeat means dead.
    watchdogTimer = setTimeout(function () {
      if (socket) socket.close(4000, "heartbeat timeout");
    }, silenceLimitMs);
  }

  function scheduleReconnect(delayMs) {
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delayMs);
  }

  function backoffDelay() {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, attempt));
    attempt += 1;
    return ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter": never a thundering herd
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
    setState("connecting");
    let ws;
    try {
      ws = new WebSocket(streamUrl());
    } catch (err) {
      setState("closed");
      scheduleReconnect(backoffDelay());
      return;
    }
    socket = ws;
    let closeCode = null;

    ws.onopen = function () {
      attempt = 0;
      setState("open");
      resetWatchdog();
      const channels = Array.from(channelHandlers.keys());
      if (channels.length) send({ action: "subscribe", channels: channels });
      emit("open", {});
      // Subscribed again first, so nothing pushed from now on is lost between the re-read
      // and the live updates that follow it.
      if (openedBefore) emit("resync", { lastSeq: lastSeq });
      openedBefore = true;
    };
    ws.onmessage = function (ev) {
      resetWatchdog();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (err) { return; }
      dispatch(msg);
    };
    ws.onclose = function (ev) {
      if (socket !== ws) return;
      socket = null;
      clearTimeout(watchdogTimer);
      closeCode = ev.code;
      setState("closed");
      emit("close", { code: ev.code, reason: ev.reason });
      scheduleReconnect(closeCode === CLOSE_NOT_AUTHENTICATED ? UNAUTHENTICATED_RETRY_MS : backoffDelay());
    };
    ws.onerror = function () { /* onclose follows and handles the retry */ };
  }

  function dispatch(msg) {
    if (!msg || typeof msg !== "object") return;
    if (typeof msg.seq === "number" && msg.seq > lastSeq) lastSeq = msg.seq;
    if (msg.event === "heartbeat" && msg.data && msg.data.interval) {
      silenceLimitMs = Math.max(5000, msg.data.interval * 2500);
      resetWatchdog();
    }
    if (msg.event === "subscribed" && msg.data && msg.data.rejected && msg.data.rejected.length) {
      console.warn("OMS.stream: channels rejected by the server:", msg.data.rejected);
    }
    if (msg.channel !== undefined) {
      const set = channelHandlers.get(msg.channel);
      const payload = { channel: msg.channel, event: msg.event, data: msg.data };
      if (set) {
        Array.from(set).forEach(function (fn) {
          try { fn(payload); } catch (err) { console.error("OMS.stream handler for", msg.channel, err); }
        });
      }
      emit(msg.event, payload);
    } else {
      emit(msg.event, { event: msg.event, data: msg.data });
    }
    emit("*", msg);
  }

  function asList(channels) {
    return (Array.isArray(channels) ? channels : [channels]).filter(function (c) {
      return typeof c === "string" && c.length > 0;
    });
  }

  function subscribe(channels, handler) {
    const fresh = [];
    asList(channels).forEach(function (channel) {
      let set = channelHandlers.get(channel);
      if (!set) {
        set = new Set();
        channelHandlers.set(channel, set);
        fresh.push(channel);
      }
      if (typeof handler === "function") set.add(handler);
    });
    if (fresh.length) send({ action: "subscribe", channels: fresh });
    return function () { unsubscribe(channels, handler); };
  }

  function unsubscribe(channels, handler) {
    const gone = [];
    asList(channels).forEach(function (channel) {
      const set = channelHandlers.get(channel);
      if (!set) return;
      if (typeof handler === "function") set.delete(handler); else set.clear();
      if (set.size === 0) {
        channelHandlers.delete(channel);
        gone.push(channel);
      }
    });
    if (gone.length) send({ action: "unsubscribe", channels: gone });
  }

  function on(event, handler) {
    if (typeof handler !== "function") return function () {};
    let set = eventHandlers.get(event);
    if (!set) {
      set = new Set();
      eventHandlers.set(event, set);
    }
    set.add(handler);
    return function () { set.delete(handler); };
  }

  // --- The notifications bell and toasts (every page) -----------------------------------

  function showUnread(n) {
    unreadCount = Math.max(0, n);
    const badge = document.getElementById("notif-count");
    if (!badge) return;
    badge.textContent = unreadCount > 99 ? "99+" : String(unreadCount);
    badge.hidden = unreadCount === 0;
  }

  function refreshUnread() {
    if (!document.getElementById("notif-count")) return;
    fetch("/api/v1/notifications/unread-count", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body && typeof body.unread === "number") showUnread(body.unread); })
      .catch(function () { /* the count stays as it was; the next reconnect retries */ });
  }

  function toastNotification(n) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast" + (n.level ? " toast-" + n.level : "");
    el.setAttribute("role", "status");
    const title = document.createElement("strong");
    title.textContent = n.title || "Notification";
    el.appendChild(title);
    if (n.body) {
      const body = document.createElement("div");
      body.className = "toast-body";
      body.textContent = n.body;
      el.appendChild(body);
    }
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 6000);
  }

  subscribe(["notifications"], function (msg) {
    const d = msg.data || {};
    if (msg.event === "notification.created") {
      toastNotification(d);
      showUnread((unreadCount || 0) + 1);
    } else if ((msg.event === "notification.read" || msg.event === "notification.read_all") &&
               typeof d.unread === "number") {
      showUnread(d.unread);
    }
  });
  on("open", refreshUnread); // also catches up on anything missed while disconnected

  window.addEventListener("online", function () { if (!socket) { attempt = 0; connect(); } });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !socket) { attempt = 0; connect(); }
  });

  window.OMS = window.OMS || {};
  window.OMS.stream = {
    subscribe: subscribe,
    unsubscribe: unsubscribe,
    on: on,
    state: function () { return state; },
    lastSeq: function () { return lastSeq; },
    reconnect: function () { attempt = 0; if (socket) socket.close(4000, "reconnect"); else connect(); },
  };

  connect();
})();

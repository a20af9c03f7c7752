// Status page of the bundled swarmdeploy server: connection state, transport, latency grade,
// reconnects with backoff and queued events. Tests and operators read the window.ws* values.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("swarm-config").textContent);
  const params = new URLSearchParams(window.location.search);
  const room = params.get("room") || "dashboard";
  const PING_EVERY_MS = 2000;
  const $ = (id) => document.getElementById(id);

  // Grades as verify reports them: Excellent < 50 ms, Good < 150 ms, Fair < 300 ms, else Poor.
  function grade(ms) {
    if (ms < 50) return "Excellent";
    if (ms < 150) return "Good";
    if (ms < 300) return "Fair";
    return "Poor";
  }

  const socket = io({
    path: cfg.path,
    // The profile's order; with tryAllTransports a blocked WebSocket falls back to polling.
    transports: cfg.transports,
    tryAllTransports: true,
    auth: params.get("token") ? { token: params.get("token") } : {},
    // Exponential backoff: 1 s doubling up to 10 s, +-50 % jitter so clients do not reconnect in step.
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10000,
    randomizationFactor: 0.5,
  });

  window.swarmSocket = socket;
  window.wsConnected = false;
  window.wsTransport = null;
  window.wsLatency = null;
  window.wsGrade = null;
  window.wsReconnectAttempts = 0;
  window.wsQueuedEvents = 0;
  window.wsEventsReceived = 0;
  window.wsLastError = null;
  let lastSeq = 0;

  function render() {
    $("indicator").className = "dot " + (window.wsConnected ? "green" : "red");
    $("state").textContent = window.wsConnected ? "connected" : (window.wsLastError ? "disconnected: " + window.wsLastError : "disconnected");
    $("transport").textContent = window.wsTransport || "-";
    $("latency").textContent = window.wsLatency === null ? "-" : window.wsLatency.toFixed(1) + " ms";
    $("grade").textContent = window.wsGrade ? "(" + window.wsGrade + ")" : "";
    $("reconnects").textContent = String(window.wsReconnectAttempts);
    $("queued").textContent = String(window.wsQueuedEvents);
    $("received").textContent = String(window.wsEventsReceived);
  }

  function setTransport() {
    window.wsTransport = socket.io.engine ? socket.io.engine.transport.name : null;
    render();
  }

  function receive(events) {
    for (const event of events) {
      if (event.seq > lastSeq) {
        lastSeq = event.seq;
        window.wsEventsReceived += 1;
      }
    }
    render();
  }

  function ping() {
    if (socket.connected) socket.emit("ping", { t: performance.now() });
  }

  socket.on("connect", () => {
    window.wsConnected = true;
    window.wsLastError = null;
    window.wsReconnectAttempts = 0;
    setTransport();
    socket.io.engine.on("upgrade", setTransport);
    socket.emit("subscribe", { room: room });
    // After a reconnect, replay what was published meanwhile from the server's bounded history.
    if (lastSeq > 0) {
      socket.emit("history", { room: room, since: lastSeq }, (answer) => answer && answer.ok && receive(answer.events));
    }
    ping();
  });

  socket.on("disconnect", (reason) => {
    window.wsConnected = false;
    window.wsLastError = reason;
    setTransport();
  });

  socket.on("connect_error", (error) => {
    window.wsLastError = error.message;
    render();
  });

  socket.io.on("reconnect_attempt", (attempt) => {
    window.wsReconnectAttempts = attempt;
    render();
  });

  socket.on("pong", (answer) => {
    if (!answer || !answer.payload || typeof answer.payload.t !== "number") return;
    window.wsLatency = performance.now() - answer.payload.t;
    window.wsGrade = grade(window.wsLatency);
    $("instance").textContent = answer.instance;
    render();
  });

  socket.on("batch", (message) => receive(message.events || []));

  setInterval(() => {
    // Emits made while disconnected wait in the client's send buffer until it reconnects.
    window.wsQueuedEvents = socket.sendBuffer.length;
    ping();
    render();
  }, PING_EVERY_MS);
  render();
})();

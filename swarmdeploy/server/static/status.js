// Status page of the bundled swarmdeploy server: the operator's live view of this connection (transport,
// upgrade, latency chart, reconnects, events per second), of every instance of the deployment
// (/api/instances), and the troubleshooting guide's emergency procedures as buttons. Tests, verify and
// the guide's console snippets read window.swarmSocket and the window.ws* values.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("swarm-config").textContent);
  const params = new URLSearchParams(window.location.search);
  const room = params.get("room") || "dashboard";
  const token = params.get("token");
  const PING_EVERY_MS = 2000;
  const INSTANCES_EVERY_MS = 5000;
  const RATE_WINDOW_MS = 10000; // events per second over the last 10 s
  const RECENT_KEPT = 500;
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
    auth: token ? { token: token } : {},
    // Exponential backoff: 1 s doubling up to 10 s, +-50 % jitter so clients do not reconnect in step.
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10000,
    randomizationFactor: 0.5,
  });
  const feed = swarmResume(socket);
  const chart = new SwarmChart($("chart"), 300, 3 * PING_EVERY_MS);

  window.swarmSocket = socket;
  window.swarmFeed = feed;
  window.swarmChart = chart;
  window.swarmEvents = []; // the last RECENT_KEPT events delivered, oldest first
  window.swarmInstances = null; // the last /api/instances answer
  window.wsConnected = false;
  window.wsTransport = null;
  window.wsUpgrade = null;
  window.wsLatency = null;
  window.wsGrade = null;
  window.wsReconnectAttempts = 0;
  window.wsReconnects = 0;
  window.wsEventsReceived = 0;
  window.wsEventsPerSecond = 0;
  window.wsResyncs = 0;
  window.wsLastError = null;
  window.wsForcedPolling = false;
  // Emits made while disconnected wait in the client's send buffer. The guide clears them with
  // `window.wsQueuedEvents = []`: assigning an empty list (or 0) empties the buffer.
  Object.defineProperty(window, "wsQueuedEvents", {
    get: () => socket.sendBuffer.length,
    set: (value) => {
      if (value === 0 || (Array.isArray(value) && value.length === 0)) socket.sendBuffer.splice(0);
    },
  });
  const arrivals = [];

  function render() {
    $("indicator").className = "dot " + (window.wsConnected ? "green" : "red");
    $("state").textContent = window.wsConnected ? "connected" : (window.wsLastError ? "disconnected: " + window.wsLastError : "disconnected");
    $("transport").textContent = window.wsTransport || "-";
    $("upgrade").textContent = window.wsUpgrade || "-";
    $("latency").textContent = window.wsLatency === null ? "-" : window.wsLatency.toFixed(1) + " ms";
    $("grade").textContent = window.wsGrade ? "(" + window.wsGrade + ")" : "";
    $("grade").className = window.wsGrade ? "grade " + window.wsGrade.toLowerCase() : "grade";
    $("reconnects").textContent = window.wsReconnects + (window.wsReconnectAttempts ? " (attempt " + window.wsReconnectAttempts + ")" : "");
    $("rate").textContent = window.wsEventsPerSecond.toFixed(1);
    $("received").textContent = String(window.wsEventsReceived);
    $("resyncs").textContent = String(window.wsResyncs);
    $("queued").textContent = String(window.wsQueuedEvents);
    $("force-polling").textContent = window.wsForcedPolling ? "Back to " + cfg.transports.join(" + ") : "Force polling";
  }

  let upgradeEvent = null; // what the engine reported about upgrading on this connection

  function upgradeState(engine) {
    if (!engine || !window.wsConnected) return null;
    if (upgradeEvent) return upgradeEvent;
    if (window.wsTransport === "websocket") return "websocket from the start";
    // With tryAllTransports the engine drops a transport that failed to open from its names, while the
    // options keep what it was opened with (as classes): a proxy that loses the Upgrade headers shows here.
    if (engine.transports.length < socket.io.opts.transports.length) return "failed: websocket did not open, fell back to polling";
    if (!engine.transports.includes("websocket")) return window.wsForcedPolling ? "off: polling forced" : "off: polling only";
    if (!cfg.allowUpgrades) return "not offered (socketio.allow_upgrades: false)";
    return "waiting for the probe";
  }

  function engineChanged() {
    const engine = socket.io.engine;
    window.wsTransport = engine ? engine.transport.name : null;
    window.wsUpgrade = upgradeState(engine);
    render();
  }

  function rate() {
    const since = Date.now() - RATE_WINDOW_MS;
    while (arrivals.length && arrivals[0] < since) arrivals.shift();
    window.wsEventsPerSecond = arrivals.length / (RATE_WINDOW_MS / 1000);
  }

  feed.onEvent((event) => {
    window.wsEventsReceived += 1;
    arrivals.push(Date.now());
    window.swarmEvents.push(event);
    if (window.swarmEvents.length > RECENT_KEPT) window.swarmEvents.shift();
    const item = document.createElement("li");
    item.textContent = "#" + event.seq + " " + event.event + " " + JSON.stringify(event.data);
    $("events").prepend(item);
    while ($("events").children.length > 20) $("events").lastChild.remove();
  });

  feed.onResync((gap) => {
    window.wsResyncs += 1;
    $("resync").textContent = "events " + gap.from + "-" + gap.to + " of " + gap.room + " were no longer in history: reload what they changed";
    render();
  });

  function ping() {
    if (socket.connected) socket.emit("ping", { t: performance.now() });
  }

  let connects = 0;

  socket.on("connect", () => {
    // Every connect after the first counts, whether the manager reconnected or a button did.
    if (connects > 0) window.wsReconnects += 1;
    connects += 1;
    window.wsConnected = true;
    window.wsLastError = null;
    window.wsReconnectAttempts = 0;
    upgradeEvent = null;
    const engine = socket.io.engine;
    const upgrade = (state) => () => { upgradeEvent = state; engineChanged(); };
    engine.on("upgrading", upgrade("upgrading"));
    engine.on("upgrade", upgrade("upgraded from polling"));
    engine.on("upgradeError", (error) => upgrade("failed: " + error.message)());
    engineChanged();
    ping();
  });

  socket.on("disconnect", (reason) => {
    window.wsConnected = false;
    window.wsLastError = reason;
    engineChanged();
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
    chart.add(window.wsLatency);
    render();
  });

  // The guide's emergency procedures, as its console snippets do them.
  $("force-polling").addEventListener("click", () => {
    window.wsForcedPolling = !window.wsForcedPolling;
    socket.io.opts.transports = window.wsForcedPolling ? ["polling"] : cfg.transports.slice();
    socket.disconnect();
    socket.connect();
  });

  $("reset").addEventListener("click", () => {
    socket.disconnect();
    window.wsReconnectAttempts = 0;
    setTimeout(() => socket.connect(), 1000);
  });

  $("clear-queue").addEventListener("click", () => {
    window.wsQueuedEvents = [];
    render();
  });

  function showInstances(answer) {
    window.swarmInstances = answer;
    const body = $("instances").tBodies[0];
    body.replaceChildren();
    for (const instance of answer.instances) {
      const row = body.insertRow();
      const queue = instance.queue === null ? "none" : (instance.queue.reachable ? "reachable" : "unreachable") + ", listener " + instance.queue.listener;
      const cells = [instance.id + (instance.self ? " (answered)" : ""), instance.port, instance.silent ? "silent" : instance.status,
                     instance.clients, queue, Math.round(instance.uptime) + " s", instance.age.toFixed(1) + " s ago"];
      for (const value of cells) row.insertCell().textContent = String(value);
      row.className = instance.silent ? "silent" : instance.status;
    }
    $("instances-note").textContent = answer.complete ? "" : "Other instances unknown: the message queue does not answer.";
  }

  function loadInstances() {
    fetch(cfg.instancesUrl, { headers: token ? { Authorization: "Bearer " + token } : {}, cache: "no-store" })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error("HTTP " + response.status))))
      .then(showInstances)
      .catch((error) => { $("instances-note").textContent = "Could not list instances: " + error.message; });
  }

  feed.subscribe(room);
  $("room").textContent = room;
  setInterval(() => {
    rate();
    ping();
    chart.draw(Date.now());
    render();
  }, PING_EVERY_MS);
  setInterval(loadInstances, INSTANCES_EVERY_MS);
  loadInstances();
  chart.draw(Date.now());
  render();
})();

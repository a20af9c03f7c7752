// swarm-resume.js: every event of the rooms you subscribe to, exactly once and in order, across reconnects
// and instances, from swarmdeploy's bundled server (protocol: docs/resume.md). A plain script, no build step:
//
//   <script src="/static/socket.io.min.js"></script>
//   <script src="/static/swarm-resume.js"></script>
//   const feed = swarmResume(io({ path: "/socket.io" }));
//   feed.onEvent((event) => render(event));  // {room, seq, epoch, event, data, time, origin}
//   feed.onResync((gap) => reload(gap.room)); // {room, from, to, epoch}: events from..to are gone for good
//   feed.subscribe("dashboard");
//
// Each room's events are numbered 1, 2, 3, ... within an epoch. The feed delivers the next number only;
// a later one waits in `pending` until the gap closes (events sent through another instance may overtake),
// or for GAP_WAIT_MS, after which it asks the server for what it lacks. After every (re)connect it sends
// each room's position, and the server replays what it missed, or says `resync` first when history no
// longer holds all of it.
(function (global) {
  "use strict";
  const GAP_WAIT_MS = 500;
  const RETRY_MS = 1000; // after a refused or unanswered subscribe (the message queue may be down)
  const ANSWER_TIMEOUT_MS = 10000;

  function swarmResume(socket) {
    const rooms = new Map(); // room -> {epoch, seq, pending, asking, timer}
    const eventHandlers = [];
    const resyncHandlers = [];
    let connection = 0; // counts connects: an answer that belongs to an earlier connection is ignored

    function call(handlers, value) {
      for (const handler of handlers) {
        try {
          handler(value);
        } catch (error) {
          console.error("swarm-resume handler failed", error); // one failing handler must not stall the feed
        }
      }
    }

    function wait(room, state, ms) {
      if (state.timer === null) {
        state.timer = setTimeout(() => {
          state.timer = null;
          ask(room);
        }, ms);
      }
    }

    function ask(room) {
      const state = rooms.get(room);
      if (!state || !socket.connected || state.asking === connection) return;
      const sentOn = (state.asking = connection);
      const position = state.seq === null ? {} : { since: state.seq, epoch: state.epoch };
      socket.timeout(ANSWER_TIMEOUT_MS).emit("subscribe", Object.assign({ room: room }, position), (error, answer) => {
        if (rooms.get(room) !== state || sentOn !== connection) return; // unsubscribed, or reconnected since
        state.asking = null;
        if (error || !answer || !answer.ok) {
          // The server names its wait when the message queue is down (retry_after, seconds).
          wait(room, state, answer && answer.retry_after > 0 ? answer.retry_after * 1000 : RETRY_MS);
          return;
        }
        if (state.seq === null) {
          state.epoch = answer.epoch;
          state.seq = answer.seq;
        }
        drain(room, state);
        // Still behind what the server held when it answered: the replay was capped, so ask from here.
        if (state.epoch === answer.epoch && state.seq < answer.seq) ask(room);
      });
    }

    function drain(room, state) {
      if (state.seq === null) return; // the first answer says where we start
      state.pending.sort((a, b) => a.epoch - b.epoch || a.seq - b.seq);
      const waiting = [];
      for (const event of state.pending) {
        const seen = event.epoch < state.epoch || (event.epoch === state.epoch && event.seq <= state.seq);
        if (seen) continue;
        if (event.epoch === state.epoch && event.seq === state.seq + 1) {
          state.seq = event.seq;
          call(eventHandlers, event);
        } else {
          waiting.push(event); // a gap before it, or a newer epoch (the server's history restarted)
        }
      }
      state.pending = waiting;
      if (waiting.length) {
        wait(room, state, GAP_WAIT_MS);
      } else if (state.timer !== null) {
        clearTimeout(state.timer);
        state.timer = null;
      }
    }

    socket.on("connect", () => {
      connection += 1;
      for (const room of rooms.keys()) ask(room);
    });

    socket.on("batch", (message) => {
      const state = rooms.get(message.room);
      if (!state) return;
      state.pending.push(...message.events);
      drain(message.room, state);
    });

    socket.on("resync", (gap) => {
      const state = rooms.get(gap.room);
      if (!state) return;
      state.epoch = gap.epoch;
      state.seq = gap.to;
      call(resyncHandlers, gap);
      drain(gap.room, state);
    });

    const feed = {
      socket: socket,
      // position: {epoch, seq} kept from an earlier page (e.g. sessionStorage), to resume from there.
      subscribe(room, position) {
        if (!rooms.has(room)) {
          const start = position || { epoch: null, seq: null };
          rooms.set(room, { epoch: start.epoch, seq: start.seq, pending: [], asking: null, timer: null });
          ask(room);
        }
        return feed;
      },
      unsubscribe(room) {
        const state = rooms.get(room);
        if (state) {
          clearTimeout(state.timer);
          rooms.delete(room);
          if (socket.connected) socket.emit("unsubscribe", { room: room });
        }
        return feed;
      },
      position(room) {
        const state = rooms.get(room);
        return state ? { epoch: state.epoch, seq: state.seq, pending: state.pending.length } : null;
      },
      onEvent(handler) {
        eventHandlers.push(handler);
        return feed;
      },
      onResync(handler) {
        resyncHandlers.push(handler);
        return feed;
      },
    };
    return feed;
  }

  global.swarmResume = swarmResume;
})(window);

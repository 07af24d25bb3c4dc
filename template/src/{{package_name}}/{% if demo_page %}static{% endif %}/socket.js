// A WebSocket that reconnects after abnormal closes, with exponential backoff and full jitter.
// Plain ES module, no dependencies: the demo page's pages import it.

/** Close codes after which reconnecting can help (RFC 6455 section 7.4.1). */
export const RECONNECT_CODES = new Set([
  1006, // abnormal closure: the connection dropped, or the server could not be reached
  1011, // internal error
  1012, // service restart
  1013, // try again later (slow consumer)
]);

/** What each close code this service sends means, for the connection status line. */
export const CLOSE_MEANINGS = {
  1000: "normal closure",
  1003: "wrong frame kind",
  1006: "connection lost",
  1008: "policy violation (rate limit)",
  1009: "message too big",
  1011: "server error",
  1012: "server restarting",
  1013: "too slow: backlog overflowed",
  4401: "token refused",
};

const BASE_DELAY_MS = 250;
const MAX_DELAY_MS = 10000;

/**
 * Delay before reconnect attempt `attempt` (0, 1, ...): a random time between 0 and
 * min(MAX_DELAY_MS, BASE_DELAY_MS * 2^attempt) ("full jitter"), so clients cut off together
 * do not all come back at the same moment.
 */
export function backoffDelay(attempt) {
  return Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
}

/** Encodes and decodes JSON messages in text or binary frames (UTF-8 JSON in binary ones). */
export class FrameCodec {
  constructor(frameKind) {
    this.frameKind = frameKind;
    this.encoder = new TextEncoder();
    this.decoder = new TextDecoder("utf-8", { fatal: true });
  }

  encode(text) {
    return this.frameKind === "binary" ? this.encoder.encode(text) : text;
  }

  decode(data) {
    const text = typeof data === "string" ? data : this.decoder.decode(data);
    return JSON.parse(text);
  }
}

/**
 * One logical connection to `url()`: opens a WebSocket, reconnects after the closes in
 * RECONNECT_CODES, and stops after any other close or `close()`. `protocols()`, if given,
 * returns the subprotocols offered on each (re)connect (`Sec-WebSocket-Protocol`).
 *
 * Callbacks: onOpen() after every (re)connect, onMessage(object) per frame,
 * onStatus({state, code, reason, retryInMs}) whenever the state changes.
 */
export class ReconnectingSocket {
  constructor({ url, protocols = () => [], frameKind, onOpen, onMessage, onStatus }) {
    this.url = url;
    this.protocols = protocols;
    this.codec = new FrameCodec(frameKind);
    this.onOpen = onOpen;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.last = { code: null, reason: "" };
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws !== null) {
      return;
    }
    const ws = new WebSocket(this.url(), this.protocols());
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.status("connecting");
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.status("open");
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = this.codec.decode(event.data);
      } catch (error) {
        message = { type: "error", code: "page", detail: `unreadable frame from the server: ${error.message}` };
      }
      this.onMessage(message);
    });
    ws.addEventListener("close", (event) => {
      this.ws = null;
      this.last = { code: event.code, reason: event.reason };
      if (RECONNECT_CODES.has(event.code)) {
        const delay = backoffDelay(this.attempt);
        this.attempt += 1;
        this.timer = setTimeout(() => this.connect(), delay);
        this.status("reconnecting", delay);
      } else {
        this.status("closed");
      }
    });
  }

  /** Send `message` (an object) as JSON; false when not connected. */
  send(message) {
    return this.sendText(JSON.stringify(message));
  }

  /** Send `text` as it is, in a frame of the service's kind; false when not connected. */
  sendText(text) {
    if (!this.open) {
      return false;
    }
    this.ws.send(this.codec.encode(text));
    return true;
  }

  /** Close with 1000 and do not reconnect. */
  close() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws !== null) {
      this.ws.close(1000, "closed by the user");
    } else {
      this.status("closed");
    }
  }

  status(state, retryInMs = null) {
    this.onStatus({ state, code: this.last.code, reason: this.last.reason, retryInMs });
  }
}

/** "1012 server restarting (reason)" for the status line. */
export function describeClose(code, reason) {
  if (code === null) {
    return "none yet";
  }
  const meaning = CLOSE_MEANINGS[code] ?? "closed";
  return reason ? `${code} ${meaning} (${reason})` : `${code} ${meaning}`;
}

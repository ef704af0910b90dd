// The WebSocket transport (uWebSockets.js): upgrade with subprotocol choice,
// frames in to ingress, frames out corked.
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_socket_context_t } from "uWebSockets.js";
import { closeCodes } from "@radiant/wire";
import type { Authenticator, Identity } from "../auth/authenticator.js";
import { withoutBearer } from "../auth/credentials.js";
import { guard } from "../guard.js";
import type { Hub } from "../hub.js";
import { connectionClosed, connectionOpened } from "../metrics.js";
import type { Framing } from "../protocol.js";
import type { Prepared } from "../resume.js";
import type { Session, Transport } from "../session.js";
import { authRefusalHeader, authRequest, type OriginPolicy } from "./http.js";

export interface WsData {
  /** what the upgrade decided; dropped once the session exists */
  prepared: Prepared | undefined;
  who: Identity;
  framing: Framing;
  session?: Session;
}

const SEND_DROPPED = 2;

// uWS's cork takes a callback; one shared callback and these three slots
// spare a closure per frame and a bound function per socket.
let corkWs: WebSocket<WsData> | undefined;
let corkFrame: Uint8Array | string = "";
let corkResult = 0;
const corkedSend = () => {
  corkResult = corkWs!.send(corkFrame, false);
};

class WsTransport implements Transport {
  constructor(
    private readonly ws: WebSocket<WsData>,
    readonly framing: Framing,
  ) {}

  bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }

  send(frame: Uint8Array | string): boolean {
    corkWs = this.ws;
    corkFrame = frame;
    this.ws.cork(corkedSend);
    corkWs = undefined;
    corkFrame = "";
    return corkResult !== SEND_DROPPED;
  }

  corked(run: () => void): void {
    this.ws.cork(run); // a send inside runs in this cork: uWS corks a socket once
  }

  close(code: number, reason: string): void {
    this.ws.end(code, reason);
  }
}

/**
 * The framing for the subprotocols a client offered (its credential entry
 * aside): none → the default; `mcp` among them → strict JSON-RPC; `radiant`
 * → the default, named (a browser that carries its token in a subprotocol
 * must offer one we answer with); only others → undefined.
 */
function chooseFraming(offered: string): { framing: Framing; answer: string } | undefined {
  if (offered.trim() === "") return { framing: "json", answer: "" };
  const names = offered.split(",").map((p) => p.trim());
  if (names.includes("mcp")) return { framing: "mcp", answer: "mcp" };
  return names.includes(DEFAULT_SUBPROTOCOL) ? { framing: "json", answer: DEFAULT_SUBPROTOCOL } : undefined;
}

/** the subprotocol naming the default framing */
const DEFAULT_SUBPROTOCOL = "radiant";

export interface WsOptions {
  path: string;
  origins: OriginPolicy;
  maxPayload: number;
  maxBackpressure: number;
  idleTimeoutS: number;
  auth: Authenticator;
}

export function mountWebSocket(app: TemplatedApp, hub: Hub, o: WsOptions): void {
  app.ws<WsData>(o.path, {
    // uWS cuts a frame over its limit at the TCP level (the client sees 1006).
    // Frames up to twice our limit reach `message`, where they get a proper 1009.
    maxPayloadLength: 2 * o.maxPayload,
    // uWS drops frames past this; the session core stops writing well before it (egress.ts)
    maxBackpressure: o.maxBackpressure + o.maxPayload + 64 * 1024,
    closeOnBackpressureLimit: 0,
    idleTimeout: o.idleTimeoutS,
    sendPingsAutomatically: true,

    upgrade: guard(
      "ws upgrade",
      (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
        // Synchronous to the end: an upgrade finished later, inside res.cork,
        // makes this uWS build close fresh sockets at random (see resume_token.ts).
        const key = req.getHeader("sec-websocket-key");
        const offered = req.getHeader("sec-websocket-protocol");
        const extensions = req.getHeader("sec-websocket-extensions");
        const framings = withoutBearer(offered);
        const chosen = chooseFraming(framings);
        if (hub.stopping) {
          res.writeStatus("503 Service Unavailable").end("shutting down: reconnect to another gateway");
          return;
        }
        const origin = req.getHeader("origin");
        if (!o.origins.allows(origin, req.getHeader("host"))) {
          // the same rule as /sse and /mcp: a page of another site must not reach the sessions here
          res.writeStatus("403 Forbidden").end(`origin ${JSON.stringify(origin)} is not allowed (GATEWAY_ALLOWED_ORIGINS)`);
          return;
        }
        if (chosen === undefined) {
          // a client that requires a subprotocol we do not speak would fail the handshake anyway: say why (never echoing a token)
          res
            .writeStatus("400 Bad Request")
            .end(
              `unsupported WebSocket subprotocol ${JSON.stringify(framings.slice(0, 200))}: offer "mcp" or none ("${DEFAULT_SUBPROTOCOL}" names the default)`,
            );
          return;
        }
        if (chosen.answer === "" && offered.trim() !== "") {
          // a browser fails a handshake whose answer names none of the subprotocols it offered
          res
            .writeStatus("400 Bad Request")
            .end(`a "radiant.bearer.<token>" subprotocol entry needs one to answer with beside it: offer "${DEFAULT_SUBPROTOCOL}" or "mcp" too`);
          return;
        }
        const a = o.auth.authenticate(authRequest(res, req));
        if (!a.ok) {
          const [name, value] = authRefusalHeader(a);
          res.writeStatus(a.status).writeHeader(name, value).end(a.reason);
          return;
        }
        const over = hub.ingress.limits.mayConnect(a.who);
        if (over) {
          res.writeStatus("429 Too Many Requests").writeHeader("Retry-After", String(over.retryAfterS)).end(over.reason);
          return;
        }
        // /ws?resume=<token>&last_seq=<n>
        const prepared = hub.prepare(a.who.principal, { resume: req.getQuery("resume"), lastSeq: req.getQuery("last_seq") });
        if (prepared.kind === "resume" && !hub.mayResume()) {
          res.writeStatus("503 Service Unavailable").writeHeader("Retry-After", "1").end("too many resumes at once: retry in a moment with the same token");
          return;
        }
        res.upgrade<WsData>({ prepared, who: a.who, framing: chosen.framing }, key, chosen.answer, extensions, context);
      },
      (res) => res.writeStatus("500 Internal Server Error").end("internal error"),
    ),

    open: guard(
      "ws open",
      (ws: WebSocket<WsData>) => {
        connectionOpened();
        const d = ws.getUserData();
        d.session = hub.open(d.prepared!, d.who, new WsTransport(ws, d.framing));
        d.prepared = undefined;
      },
      internalClose,
    ),

    message: guard(
      "ws message",
      (ws: WebSocket<WsData>, message: ArrayBuffer, isBinary: boolean) => {
        const s = ws.getUserData().session!;
        if (isBinary) {
          s.transport.close(closeCodes.unsupportedData, "binary frames are not supported: send JSON as text frames");
          return;
        }
        if (message.byteLength > o.maxPayload) {
          s.transport.close(closeCodes.tooBig, `frame too big: the limit is ${o.maxPayload} bytes`);
          return;
        }
        hub.frame(s, Buffer.from(message));
      },
      internalClose,
    ),

    drain: guard(
      "ws drain",
      (ws: WebSocket<WsData>) => {
        const s = ws.getUserData().session;
        if (s) hub.drain(s);
      },
      internalClose,
    ),

    close: guard(
      "ws close",
      (ws: WebSocket<WsData>) => {
        connectionClosed();
        const s = ws.getUserData().session;
        if (s) hub.close(s);
      },
      () => {},
    ),
  });
}

/** After a bug on this socket, nothing about its session can be trusted: close it, the client resumes. */
const internalClose = (ws: WebSocket<WsData>) => ws.end(closeCodes.internalError, "internal error: reconnect and resume");

// What a protocol handler is: one request in, the frames of its reply out, as
// they are produced (a streaming handler yields many), stopping when its
// signal says so.
import type { Log } from "@radiant/infra/log";
import type { Operation, Protocol, SessionId } from "@radiant/wire";
import type { Reply } from "./reply.js";

export type { Reply } from "./reply.js";

export interface Request<P extends Protocol = Protocol> {
  /** the client's frame, untouched */
  body: Uint8Array;
  sid: SessionId;
  /** the request id the gateway gave the frame: every message of the reply carries it */
  rid: string;
  op: Operation<P>;
  principal: string;
  /** the principal's tenant, when its credential names one */
  tenant?: string;
  /** the id of the gateway API key the request came with */
  key?: string;
  /** the models that key allows (names, or prefixes ending in `*`); absent: any */
  models?: string[];
  /** what the URL named (an A2A agent), when it named one */
  target?: string;
}

export interface HandlerContext {
  log: Log;
  /** keeps the INBOX message from being redelivered while a long handler works (the worker also does it on a timer) */
  working(): void;
  /**
   * Fires when the request must stop: its reason is a CancelReason ("cancelled
   * by the client", "client gone", "session ended", "worker stopping", "timed
   * out"). Once it fires the worker takes nothing more from the handler.
   */
  signal: AbortSignal;
  /** Stop another request of the same session, wherever a worker runs it (MCP `notifications/cancelled`). */
  cancelRequest(rid: string): void;
  /**
   * The request has had an effect outside RADIANT (a provider was called and bills it): from here a
   * timeout ends it with an error instead of running it again on another delivery.
   */
  committed(): void;
}

export type Handler<P extends Protocol = Protocol> = (req: Request<P>, ctx: HandlerContext) => AsyncIterable<Reply>;

/** What a worker dispatches on: (protocol, operation). A missing entry answers with the protocol's own "unsupported" error. */
export type HandlerTable = { [P in Protocol]: { [O in Operation<P>]?: Handler<P> } };

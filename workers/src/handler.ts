// What a protocol handler is: client frame bytes in, reply frames out, as they
// are produced (a streaming handler yields many).
import type { Logger } from "pino";
import type { Protocol, SessionId } from "@radiant/infra/wire";
import type { Reply } from "./reply.js";

export interface HandlerContext {
  sid: SessionId;
  principal: string;
  log: Logger;
  /** lets a long handler keep its INBOX message from being redelivered */
  working: () => void;
}

export type Handler = (body: Uint8Array, ctx: HandlerContext) => AsyncIterable<Reply>;

export type HandlerTable = Record<Protocol, Handler>;

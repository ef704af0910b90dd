// Preloaded (`node --import loopbackPreload`) into a server we do not own that listens on a port
// with no host — every interface — and has no setting for it (server-everything): a listen given
// only a port gets 127.0.0.1, as everything our tests and benches start must.
import { Server } from "node:net";

const listen = Server.prototype.listen as (this: Server, ...args: unknown[]) => Server;
Server.prototype.listen = function (this: Server, ...args: unknown[]): Server {
  const port = args[0];
  if ((typeof port === "number" || (typeof port === "string" && /^\d+$/.test(port))) && typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  return listen.apply(this, args);
} as typeof Server.prototype.listen;

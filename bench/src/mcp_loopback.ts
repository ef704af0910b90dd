// Preloaded (`node --import`) into the upstream MCP server: server-everything listens on
// PORT with no host, i.e. on every interface, and has no setting for it; a bench's load
// stays on loopback, so a listen given only a port gets 127.0.0.1.
import { Server } from "node:net";

const listen = Server.prototype.listen as (this: Server, ...args: unknown[]) => Server;
Server.prototype.listen = function (this: Server, ...args: unknown[]): Server {
  const port = args[0];
  if ((typeof port === "number" || (typeof port === "string" && /^\d+$/.test(port))) && typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  return listen.apply(this, args);
} as typeof Server.prototype.listen;

// Reference: a bare uWebSockets.js WebSocket echo server (the socket layer's limit).
import { createRequire } from "node:module";
import type * as UWS from "uWebSockets.js";
import { stopWithParent } from "@radiant/infra/proc";

const uws = createRequire(import.meta.url)("uWebSockets.js") as typeof UWS;
const port = Number(process.argv[2] ?? 0);
uws
  .App()
  .ws("/ws", { idleTimeout: 0, maxBackpressure: 1024 * 1024, message: (ws, m, bin) => void ws.send(m, bin) })
  .listen("127.0.0.1", port, (s) => {
    if (!s) process.exit(3);
    process.stdout.write(`listening ${uws.us_socket_local_port(s)}\n`);
  });
stopWithParent(() => process.exit(0));

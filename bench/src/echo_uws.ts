// Reference: a bare uWebSockets.js WebSocket echo server (the socket layer's
// limit), and GET /sse: a bare event stream held open (an SSE stream's floor).
import { createRequire } from "node:module";
import type * as UWS from "uWebSockets.js";
import { stopWithParent } from "@radiant/infra/proc";

const uws = createRequire(import.meta.url)("uWebSockets.js") as typeof UWS;
const port = Number(process.argv[2] ?? 0);
uws
  .App()
  .ws("/ws", { idleTimeout: 0, maxBackpressure: 1024 * 1024, message: (ws, m, bin) => void ws.send(m, bin) })
  .get("/sse", (res) => {
    // what any SSE server must hold: the open response, told when its client leaves
    res.onAborted(() => {});
    res.cork(() => {
      res.writeStatus("200 OK");
      res.writeHeader("Content-Type", "text/event-stream");
      res.write(":\n\n");
    });
  })
  .listen("127.0.0.1", port, (s) => {
    if (!s) process.exit(3);
    process.stdout.write(`listening ${uws.us_socket_local_port(s)}\n`);
  });
stopWithParent(() => process.exit(0));

// Reference: a `ws` WebSocket echo server (what a Node developer would reach for).
import { WebSocketServer } from "ws";
import { stopWithParent } from "@radiant/infra/proc";

const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0), path: "/ws", perMessageDeflate: false });
wss.on("connection", (ws) => ws.on("message", (m, bin) => ws.send(m, { binary: bin })));
wss.on("listening", () => process.stdout.write(`listening ${(wss.address() as { port: number }).port}\n`));
stopWithParent(() => process.exit(0));

// NATS → socket: one core subscription on the session's live subject; each
// republished HISTORY message goes to the socket with its seq_num spliced in.
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { closeCodes, headers, parseMetaSlot, subjects } from "@radiant/infra/wire";
import { liveFrame } from "./frames.js";
import { metrics } from "./metrics.js";
import type { Session } from "./session.js";

export interface EgressOptions {
  maxBackpressure: number;
}

export function subscribeLive(nc: NatsConnection, s: Session, o: EgressOptions): void {
  s.live = nc.subscribe(subjects.live(s.sid), {
    callback: (err, msg) => {
      if (!err) deliver(s, msg, o);
    },
  });
}

export function unsubscribeLive(s: Session): void {
  s.live?.unsubscribe();
  s.live = undefined;
}

function deliver(s: Session, msg: Msg, o: EgressOptions): void {
  if (s.closed) return;
  const h = msg.headers;
  const seq = Number(h?.get(headers.sequence));
  if (!(seq > s.lastSeq)) return; // already delivered (or not a HISTORY message)
  if (s.transport.bufferedAmount() > o.maxBackpressure) {
    // Never a silent drop: the message is in HISTORY, the client resumes from lastSeq.
    s.transport.close(closeCodes.resumeRequired, "slow consumer: reconnect and resume");
    return;
  }
  const slot = s.framing === "mcp" ? parseMetaSlot(h!.get(headers.metaSlot)) : undefined;
  s.transport.send(liveFrame(s.framing, seq, s.tokenBytes, msg.data, slot));
  s.lastSeq = seq;
  metrics.messagesOut.inc();
  const ts = Number(h!.get(headers.ingressTs));
  if (ts > 0) metrics.ingressToEgress.observe((Date.now() - ts) / 1000);
}

// Subjects and stream names. Every subject is spelled here and nowhere else,
// and every one that names a session takes a checked SessionId.
import type { Protocol } from "./protocol.js";
import { asSessionId, homeOf, isHome, type SessionId } from "./session_id.js";

function asHome(h: string): string {
  if (!isHome(h)) throw new Error("not a home id");
  return h;
}

export const subjects = {
  /** client frame → INBOX; workers filter nothing, the protocol rides in the subject for observability. */
  inbox: (proto: Protocol, sid: SessionId): string => `in.${proto}.${sid}`,
  inboxAll: "in.>",
  /** worker reply → HISTORY (stored), republished by the server to `live`. */
  history: (sid: SessionId): string => `hist.${homeOf(sid)}.${sid}`,
  historyAll: "hist.>",
  /** core subject of the session's live messages (RePublish maps hist.> to out.> token for token). */
  live: (sid: SessionId): string => `out.${homeOf(sid)}.${sid}`,
  liveAll: "out.>",
  /** every live subject of the sessions made by one gateway process */
  liveHome: (home: string): string => `out.${home}.*`,
  /** a session's live messages, forwarded by its home to the process holding it away from home (forwarding.ts) */
  forwarded: (holder: string, sid: SessionId): string => `fwd.${asHome(holder)}.${sid}`,
  /** every session forwarded to one process */
  forwardedTo: (holder: string): string => `fwd.${asHome(holder)}.*`,
  /** core request to a home: forward a session's live messages to its holder, or stop */
  hold: (home: string): string => `radiant.hold.${asHome(home)}`,
  /** core: a gateway process says it is alive (forwarding.ts) */
  alive: (home: string): string => `radiant.alive.${asHome(home)}`,
  aliveAll: "radiant.alive.*",
  /** the home an alive subject names, if it names one */
  homeOfAlive: (subject: string): string | undefined => {
    const h = subject.slice("radiant.alive.".length);
    return isHome(h) ? h : undefined;
  },
  /** the session id a live (or forwarded) subject names, if it names one */
  sidOfLive: (subject: string): SessionId | undefined => asSessionId(subject.slice(subject.lastIndexOf(".") + 1)),
  /** a session ended by its client (MCP `DELETE /mcp`): stored so every gateway refuses it from then on; workers stop its requests */
  ended: (sid: SessionId): string => `ended.${sid}`,
  endedAll: "ended.*",
  /** the session id an `ended` subject names, if it names one */
  sidOfEnded: (subject: string): SessionId | undefined => asSessionId(subject.slice("ended.".length)),
  /** a worker asks the others whether one of them runs a delivery of an INBOX message of the session (body: its stream sequence); only a runner answers */
  running: (sid: SessionId): string => `running.${sid}`,
  runningAll: "running.*",
  sidOfRunning: (subject: string): SessionId | undefined => asSessionId(subject.slice("running.".length)),
  /** core: stop one request of the session wherever a worker runs it (control.ts) */
  cancel: (sid: SessionId): string => `cancel.${sid}`,
  cancelAll: "cancel.*",
  sidOfCancel: (subject: string): SessionId | undefined => asSessionId(subject.slice("cancel.".length)),
  /** an A2A task's events, stored (A2A_EVENTS): what a resubscribe replays, then follows (the id is checked: A2A_TASK_ID_RE) */
  a2aEvents: (taskId: string): string => `a2a.ev.${taskId}`,
  a2aEventsAll: "a2a.ev.*",
  /** core: stop an A2A task wherever its agent runs (the id is checked: A2A_TASK_ID_RE) */
  a2aCancel: (taskId: string): string => `a2a.cancel.${taskId}`,
  /** the server's advisory for an INBOX message that ran out of deliveries. */
  maxDeliveriesAdvisory: (stream: string, consumer: string): string => `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`,
} as const;

/** an A2A task id RADIANT accepts (it makes UUIDs): what may reach a subject and a KV key */
export const A2A_TASK_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** every A2A task's events, on a subject per task */
export const A2A_EVENTS_STREAM = "A2A_EVENTS";
/** A2A tasks, by id (a NATS KV bucket) */
export const A2A_TASKS_BUCKET = "A2A_TASKS";
/** gateway API keys, by id, hashed (a NATS KV bucket every gateway process watches) */
export const API_KEYS_BUCKET = "API_KEYS";

export const INBOX_STREAM = "INBOX";
export const HISTORY_STREAM = "HISTORY";
export const ENDED_STREAM = "ENDED";
export const WORKER_CONSUMER = "workers";
/** queue group in which exactly one worker answers a max-deliveries advisory. */
export const WORKER_QUEUE = "radiant-workers";

// The admin API's question to the fleet: which sessions are held open, and
// by whom. The supervisor that serves /admin/sessions asks on one core
// subject; every gateway process answers with its own (JSON: rare, small).
import { isPrincipal } from "./principal.js";
import { isSessionId, type SessionId } from "./session_id.js";

/** core request subject every gateway process answers with the sessions it holds */
export const ADMIN_SESSIONS_SUBJECT = "radiant.admin.sessions";

export interface AdminSessionsQuery {
  /** only this principal's sessions */
  principal?: string;
}

export interface AdminSession {
  sid: SessionId;
  principal: string;
  tenant?: string;
  /** the API key id it was opened with */
  key?: string;
  /** how its client was identified: key, jwt, cert, anonymous */
  via: string;
  /** json (the default WebSocket framing), mcp, plain (an event stream) … */
  framing: string;
}

export interface AdminSessionsAnswer {
  /** the answering process */
  from: string;
  sessions: AdminSession[];
  /** it holds more than it listed */
  truncated: boolean;
}

export function decodeSessionsQuery(bytes: Uint8Array): AdminSessionsQuery | undefined {
  try {
    const q = JSON.parse(Buffer.from(bytes).toString() || "{}") as AdminSessionsQuery;
    if (typeof q !== "object" || q === null) return undefined;
    if (q.principal !== undefined && !isPrincipal(q.principal)) return undefined;
    return q.principal === undefined ? {} : { principal: q.principal };
  } catch {
    return undefined;
  }
}

export function decodeSessionsAnswer(bytes: Uint8Array): AdminSessionsAnswer | undefined {
  try {
    const a = JSON.parse(Buffer.from(bytes).toString()) as AdminSessionsAnswer;
    if (typeof a?.from !== "string" || !Array.isArray(a.sessions)) return undefined;
    if (!a.sessions.every((s) => isSessionId(s?.sid) && isPrincipal(s.principal))) return undefined;
    return a;
  } catch {
    return undefined;
  }
}

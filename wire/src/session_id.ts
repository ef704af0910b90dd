// Session ids. A session id becomes one token of NATS subjects, so a string
// from outside (a token's claim, an envelope, a subject) is a SessionId only
// once checked: the subject builders take nothing else, and a wildcard, a dot
// or white space can never reach a subject.
declare const sessionIdBrand: unique symbol;
export type SessionId = string & { readonly [sessionIdBrand]: true };

/**
 * A session id starts with the id of the gateway process that made it, its
 * home. The home is a token of the session's subjects, so that process takes
 * the live messages of all the sessions it holds at home with ONE wildcard
 * subscription (`out.{home}.*`) instead of one subscription per session; a
 * session resumed on another process subscribes there to its own subject.
 */
export const HOME_LENGTH = 6;
/** the home, then 128 random bits as base64url */
const SESSION_ID_LENGTH = HOME_LENGTH + 22;
const SID_RE = /^[A-Za-z0-9_-]{28}$/;
const HOME_RE = /^[A-Za-z0-9_-]{6}$/;

/** The session id in `s`, if `s` is one exactly as gateways make them. */
export function asSessionId(s: unknown): SessionId | undefined {
  return typeof s === "string" && s.length === SESSION_ID_LENGTH && SID_RE.test(s) ? (s as SessionId) : undefined;
}

export function isSessionId(s: unknown): s is SessionId {
  return asSessionId(s) !== undefined;
}

export function isHome(s: string): boolean {
  return HOME_RE.test(s);
}

/** A new session id for the process whose home is `home`; `random`: 16 random bytes. */
export function makeSessionId(home: string, random: Uint8Array): SessionId {
  const sid = isHome(home) ? asSessionId(home + Buffer.from(random.buffer, random.byteOffset, 16).toString("base64url")) : undefined;
  if (!sid) throw new Error(`not a session id for home ${JSON.stringify(home)}`);
  return sid;
}

export const homeOf = (sid: SessionId): string => sid.slice(0, HOME_LENGTH);

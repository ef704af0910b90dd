// The wire contract between gateway, workers and bench: everyone imports it
// from here, nobody spells a subject, a header or an envelope field twice.
export * from "./close.js";
export * from "./control.js";
export * from "./envelope.js";
export * from "./forwarding.js";
export * from "./errors.js";
export * from "./headers.js";
export * from "./protocol.js";
export * from "./reply.js";
export * from "./request.js";
export * from "./session_id.js";
export * from "./subjects.js";
export * from "./topology.js";
export * from "./mcp_bridge.js";
export * from "./principal.js";
export * from "./usage.js";
export * from "./admin.js";

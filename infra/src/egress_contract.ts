// What workers and the egress proxy agree on beyond the model calls: the
// webhook route (A2A push notifications), spelled once.
/** POST here, with the target in WEBHOOK_URL_HEADER; the answer is `{"status": <the webhook's status, 0 if unreachable>}` */
export const WEBHOOK_PATH = "/_radiant/webhook";
export const WEBHOOK_URL_HEADER = "radiant-webhook-url";

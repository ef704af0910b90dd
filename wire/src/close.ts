// The close codes the gateway ends a client's connection with (WebSocket close
// frames; an SSE stream's last `close` event carries the same).
export const closeCodes = {
  /** a binary frame: the protocols here are JSON text */
  unsupportedData: 1003,
  /** frame over the maximum payload */
  tooBig: 1009,
  /** the gateway hit a bug on this connection: reconnect and resume */
  internalError: 1011,
  /** server going away (restart / deploy): reconnect and resume */
  serviceRestart: 1012,
  /** HISTORY cannot be read right now: resume again shortly with the same token */
  tryAgainLater: 1013,
  /** a newer connection resumed this session */
  takenOver: 4001,
  /** the session was ended (MCP `DELETE`): it cannot be resumed */
  sessionEnded: 4002,
  /**
   * HISTORY dropped messages (retention) before this slow client read them:
   * the reason names the last seq_num it got; what followed is gone
   */
  historyLost: 4003,
  /** the API key this connection was opened with was revoked: connecting again needs another credential */
  credentialRevoked: 4401,
} as const;

/** The close reason of `historyLost`: under the 123 bytes a close reason may have. */
export const historyLostReason = (afterSeq: number): string => `history lost: messages after seq_num ${afterSeq} expired before delivery`;

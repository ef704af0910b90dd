// What soak.ts and its load processes (soak_client.ts) say to each other over IPC.
export type SoakCommand =
  | { type: "open"; port: number; n: number; addresses: string[]; concurrency: number }
  | { type: "sample"; count: number; everyMs: number }
  | { type: "storm"; sleepMs: number; concurrency: number; timeoutMs: number }
  | { type: "close" };

export type SoakReply =
  | { type: "ready" }
  | { type: "opened"; opened: number; failed: number; seconds: number }
  | { type: "sampled"; rttsUs: number[]; lost: number }
  | {
      type: "stormed";
      sessions: number;
      resumed: number;
      refused: number;
      failed: number;
      lost: number;
      duplicates: number;
      resumeSeconds: number;
      answeredSeconds: number;
    };

// What soak.ts and its load processes (soak_client.ts) say to each other over IPC.
export type SoakCommand =
  | { type: "open"; port: number; n: number; addresses: string[]; concurrency: number }
  | { type: "sample"; count: number; everyMs: number }
  /** `count`: how many of the load process's sessions take part (the first ones) */
  | { type: "storm"; count: number; sleepMs: number; concurrency: number; timeoutMs: number }
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
      /** resumes told to come back later (503 at the upgrade, or close 1013), each retry counted */
      deferred: number;
      /** sessions not resumed by the deadline (each kept trying until then) */
      failed: number;
      /** why the last attempt of a failed one failed, one example per kind */
      failures: Record<string, number>;
      /** sessions whose request got no result */
      lost: number;
      /** error frames answering the request (told apart from results: an error is not an answer) */
      errors: number;
      /** the error frames' messages, counted */
      errorKinds: Record<string, number>;
      /** what became of the sessions without a result (closed by the server with a code, or still open) */
      lostKinds: Record<string, number>;
      /** requests sent again after an error frame saying they could not be queued */
      retried: number;
      /** sessions resumed again after the server closed them with 1013/1012 after their session frame */
      resumedAgain: number;
      duplicates: number;
      resumeSeconds: number;
      answeredSeconds: number;
      /** the session ids of (up to 100 of) those without a result: soak.ts looks them up in HISTORY */
      unanswered: string[];
    };

/**
 * The provider-neutral vocabulary of a call: the events a provider adapter feeds the runtime
 * and the commands the runtime answers with. The runtime never performs call I/O itself.
 */

/** Who is on the call (personal data: sealed in snapshots, scrubbed from output). */
export interface CallInfo {
  /** The caller's number (E.164). */
  caller?: string;
  /** The number called. */
  callee?: string;
  /** The provider's call id. */
  callId?: string;
  /** e.g. `twilio`, `genesys`, `simulator`. */
  provider?: string;
}

/** An event from the provider, answered by one turn. */
export type CallEvent =
  | { type: 'digits'; digits: string }
  | { type: 'speech'; text: string; confidence?: number }
  /** The caller said nothing until the time-out. */
  | { type: 'noInput' }
  | { type: 'connectResult'; status: 'completed' | 'busy' | 'noAnswer' | 'failed' }
  | { type: 'smsResult'; status: 'sent' | 'failed' }
  /** The provider's payment capture (`pay`) finished: no card data, only its outcome and references. */
  | { type: 'paymentResult'; status: 'success' | 'failed'; reference?: string; token?: string; error?: string }
  /** A transfer the session ended with did not connect (the call is still there). */
  | { type: 'transferResult'; status: 'completed' | 'failed' | 'busy' | 'noAnswer' }
  | { type: 'hangup' };

/** Text or audio spoken to the caller. */
export interface Speech {
  text?: string;
  play?: string;
  voice?: string;
  language?: string;
}

/** A command for the provider adapter. */
export type Command =
  | { type: 'say'; text: string; voice?: string; language?: string; secure?: boolean }
  | { type: 'play'; url: string; loop?: number }
  | {
      type: 'collect';
      /** collect: a value; menu: one key; authenticate: the one-time code. */
      purpose: 'collect' | 'menu' | 'authenticate';
      prompt: Speech[];
      input: 'dtmf' | 'speech' | 'dtmf speech';
      minDigits?: number;
      maxDigits?: number;
      finishOnKey?: string;
      timeoutMs: number;
      hints?: string[];
      /** What is keyed in is secure: the adapter must not log it and should suppress it from recordings. */
      secure: boolean;
    }
  | { type: 'connect'; number: string; callerId: string; timeoutMs?: number; record?: boolean }
  /** Capture a card and charge it in the provider (Twilio `<Pay>`): the card never reaches the runtime. */
  | { type: 'pay'; amount: number; currency: string; description?: string; prompt: Speech[]; attempts?: number; timeoutMs?: number }
  | {
      type: 'transfer';
      queue?: string;
      number?: string;
      user?: string;
      sip?: string;
      flow?: string;
      data?: Record<string, unknown>;
    }
  | { type: 'disconnect'; reason?: string }
  | { type: 'returnToAgent'; agentId?: string; conversationId?: string; outputs: Record<string, unknown> }
  | { type: 'pauseRecording' }
  | { type: 'resumeRecording' }
  /** `code` is the one-time code inside `body` (for a simulator or a test double; never log it). */
  | { type: 'sendSms'; to: string; body: string; code?: string; secure: true }
  /** The session is over (always the last command of its session): release anything held for it. */
  | { type: 'end'; sessionId: string; end: SessionEnd };

/** How a session ended. */
export type SessionEnd =
  | { type: 'transfer'; queue?: string; number?: string; user?: string; sip?: string; flow?: string; sessionId?: string; data?: Record<string, unknown> }
  | { type: 'enterSecureFlow'; flow: string; sessionId: string }
  | { type: 'disconnect'; reason?: string }
  | { type: 'returnToAgent'; outputs: Record<string, unknown> }
  | { type: 'return'; outputs: Record<string, unknown> }
  | { type: 'hangup'; state?: string }
  | { type: 'error'; code: string; message: string; state?: string };

/** A state entered: its flow, and the way out of the state before it that led here. */
export interface TraceStep {
  flow: string;
  state: string;
  /** `next`, an outcome, `option:KEY`, `case:N` or `default`; absent at a flow's start or an onError jump. */
  via?: string;
}

/** The answer to one event: the commands up to the next wait, and where the session stands. */
export interface Turn {
  sessionId: string;
  /** The session that continues the call when this one handed it on (enterSecureFlow, transfer to a flow). */
  nextSessionId?: string;
  commands: Command[];
  /** waiting: for the caller or the provider; ended: the session is over. */
  status: 'waiting' | 'ended';
  /** What the session waits for. */
  waitingFor?: 'input' | 'connect' | 'payment';
  /** The flow states entered this turn, in order (`flow:state`, top-level flow without prefix). */
  path: string[];
  /** The same states with the flow each belongs to. */
  trace: TraceStep[];
  end?: SessionEnd;
  /** This is the stored answer to a repeated request: nothing ran. */
  replayed?: boolean;
  /** The request was older than the last one answered (a late callback). */
  late?: boolean;
  /** The request was further ahead than the session's next one (`strictOrder`): the last turn again, nothing ran. */
  ahead?: boolean;
  /** The order of the request this turn answered (see HandleOptions.requestOrder). */
  requestOrder?: number;
  /**
   * Whether the call's recording is paused after this turn (a secure flow paused it and has not
   * resumed it): an adapter that must answer later without the store (a fail-safe) can carry it.
   */
  recordingPaused?: boolean;
}

/** The example flows' lines, the fallback queue and the data actions' scripted outcomes (see lines.mjs). */
export declare const LINES: { billing: string; protectedIdentity: string; partner: string; bank: string };
export declare const FLOW_BY_NUMBER: Record<string, string>;
export declare const EXAMPLE_FLOWS: Array<[string, string]>;
export declare const FALLBACK_QUEUE: string;
export declare const CLIENT_PHONE: string;
export declare const CUSTOMER_MOBILE: string;
export declare function scriptedOutcome(
  name: string,
  input: Record<string, unknown>,
): { output: Record<string, unknown> } | { error: string } | { timeout: true };
export declare function scriptedActionOutcome(
  name: string,
  input: Record<string, unknown>,
  ms?: number,
): import('@callflow/flow-core').ActionOutcome;
export declare function loadExampleFlows(): Promise<import('@callflow/flow-core').Flow[]>;

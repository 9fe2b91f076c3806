// The simulator lives in the package (`@callflow/adapters-twilio/testing`) so the demo can use it.
export * from '../src/testing/call-simulator.js';

/**
 * Facts about one flow that several rules need, each computed once and only when asked:
 * the state graph (indexed), reachability, which states can still end the call, and the
 * strongly connected components. Every computation is linear in states + transitions.
 */
import { actionOf, transitionsOf, type ActionName, type Flow, type Transition } from '@callflow/flow-core';
import { ACTIONS } from '@callflow/flow-core';

/** The state graph of a flow, states numbered in document order. */
export interface StateGraph {
  names: string[];
  index: Map<string, number>;
  actions: ActionName[];
  /** Written transitions per state (targets may not exist). */
  transitions: Transition[][];
  /** Successor indexes per state (existing targets only). */
  successors: number[][];
  /** Predecessor indexes per state. */
  predecessors: number[][];
}

/** Lazily computed analyses of one flow. */
export class FlowAnalysis {
  private graphCache?: StateGraph;
  private reachableCache?: Uint8Array;
  private terminalCache?: Uint8Array;
  private sccCache?: { component: Int32Array; components: number[][] };
  private readonly extra = new Map<string, unknown>();

  constructor(readonly flow: Flow) {}

  /** The state graph. */
  get graph(): StateGraph {
    if (this.graphCache) return this.graphCache;
    const names = Object.keys(this.flow.states);
    const index = new Map<string, number>();
    names.forEach((n, i) => index.set(n, i));
    const actions: ActionName[] = [];
    const transitions: Transition[][] = [];
    const successors: number[][] = [];
    const predecessors: number[][] = names.map(() => []);
    names.forEach((name, i) => {
      const state = this.flow.states[name]!;
      actions.push(actionOf(state));
      const ts = transitionsOf(name, state);
      transitions.push(ts);
      const succ: number[] = [];
      for (const t of ts) {
        const j = index.get(t.target);
        if (j !== undefined) {
          succ.push(j);
          predecessors[j]!.push(i);
        }
      }
      successors.push(succ);
    });
    this.graphCache = { names, index, actions, transitions, successors, predecessors };
    return this.graphCache;
  }

  /** The states holding `action`, in document order (indexed once for every action). */
  statesWith(action: ActionName): readonly string[] {
    if (!this.byAction) {
      const g = this.graph;
      this.byAction = new Map();
      g.names.forEach((name, i) => {
        const list = this.byAction!.get(g.actions[i]!);
        if (list) list.push(name);
        else this.byAction!.set(g.actions[i]!, [name]);
      });
    }
    return this.byAction.get(action) ?? [];
  }

  private byAction?: Map<ActionName, string[]>;

  /** Entry points: `start`, and `onError`/`onHangup` (entered by the runtime). */
  get roots(): number[] {
    const g = this.graph;
    const roots: number[] = [];
    for (const name of [this.flow.start, this.flow.onError, this.flow.onHangup]) {
      const i = name === undefined ? undefined : g.index.get(name);
      if (i !== undefined) roots.push(i);
    }
    return roots;
  }

  /** 1 for each state reachable from an entry point. */
  get reachable(): Uint8Array {
    if (this.reachableCache) return this.reachableCache;
    const g = this.graph;
    const seen = new Uint8Array(g.names.length);
    const stack = [...this.roots];
    for (const r of stack) seen[r] = 1;
    while (stack.length > 0) {
      const i = stack.pop()!;
      for (const j of g.successors[i]!) {
        if (!seen[j]) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    this.reachableCache = seen;
    return seen;
  }

  /** 1 for each state from which some terminal action (transfer, disconnect...) is reachable. */
  get canEnd(): Uint8Array {
    if (this.terminalCache) return this.terminalCache;
    const g = this.graph;
    const ok = new Uint8Array(g.names.length);
    const stack: number[] = [];
    g.actions.forEach((a, i) => {
      if (ACTIONS[a].terminal) {
        ok[i] = 1;
        stack.push(i);
      }
    });
    while (stack.length > 0) {
      const j = stack.pop()!;
      for (const i of g.predecessors[j]!) {
        if (!ok[i]) {
          ok[i] = 1;
          stack.push(i);
        }
      }
    }
    this.terminalCache = ok;
    return ok;
  }

  /**
   * Strongly connected components (iterative Tarjan). `component[i]` numbers the component
   * of state i; `components` lists the members of each. A component is a cycle when it has
   * two or more states, or one state with a transition to itself.
   */
  get sccs(): { component: Int32Array; components: number[][] } {
    if (this.sccCache) return this.sccCache;
    this.sccCache = stronglyConnected(this.graph.successors);
    return this.sccCache;
  }

  /** Is component `c` a cycle? */
  isCycle(c: number): boolean {
    const members = this.sccs.components[c]!;
    if (members.length > 1) return true;
    const i = members[0]!;
    return this.graph.successors[i]!.includes(i);
  }

  /** A per-flow cache for other analyses (expressions, data flow), keyed by name. */
  memo<T>(key: string, compute: () => T): T {
    if (this.extra.has(key)) return this.extra.get(key) as T;
    const value = compute();
    this.extra.set(key, value);
    return value;
  }
}

/** Tarjan's algorithm without recursion, so 100,000-state flows do not overflow the stack. */
export function stronglyConnected(successors: readonly (readonly number[])[]): {
  component: Int32Array;
  components: number[][];
} {
  const n = successors.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const component = new Int32Array(n).fill(-1);
  const components: number[][] = [];
  const stack: number[] = [];
  const work: { v: number; edge: number }[] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    work.push({ v: root, edge: 0 });
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const v = frame.v;
      if (frame.edge === 0 && index[v] === -1) {
        index[v] = low[v] = counter++;
        stack.push(v);
        onStack[v] = 1;
      }
      const succ = successors[v]!;
      if (frame.edge < succ.length) {
        const w = succ[frame.edge++]!;
        if (index[w] === -1) work.push({ v: w, edge: 0 });
        else if (onStack[w]) low[v] = Math.min(low[v]!, index[w]!);
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.v;
        low[parent] = Math.min(low[parent]!, low[v]!);
      }
      if (low[v] === index[v]) {
        const members: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          component[w] = components.length;
          members.push(w);
        } while (w !== v);
        members.sort((a, b) => a - b);
        components.push(members);
      }
    }
  }
  return { component, components };
}

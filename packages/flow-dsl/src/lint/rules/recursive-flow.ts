/**
 * `recursive-flow`: a `callFlow` that can come back to the flow it is made from — the flow
 * calls itself, or calls a flow that calls it again (a → b → a). Each call keeps its caller
 * waiting on the stack, so the call stack grows until the runtime refuses to go deeper
 * (`CALL_DEPTH`) and the caller hears the fail-safe. Reported on every `callFlow.flow` whose
 * target lies on a cycle through this flow, naming the cycle.
 *
 * The call graph and its strongly connected components are built once per project, in time
 * linear in its flows and calls (iterative Tarjan); a flow on a cycle adds one search of its
 * own component, for the shortest way back to itself that the message names.
 */
import { stronglyConnected } from '../analysis.js';
import type { LoadedFlow, ProjectIndex, Rule } from '../types.js';

/** How many flows a message lists before `…`. */
const MAX_LISTED_FLOWS = 6;

/** The project's calls between flows (`callFlow` only: the other hand-ons end the session). */
interface CallGraph {
  index: Map<string, number>;
  names: string[];
  successors: number[][];
  predecessors: number[][];
  component: Int32Array;
}

// One graph per lint run's project, however many of its files are linted.
const graphs = new WeakMap<ProjectIndex, CallGraph>();

export const rule: Rule = {
  meta: {
    name: 'recursive-flow',
    description: 'A callFlow that comes back to the flow it is made from (directly or through other flows): the call stack would grow until the call fails.',
    defaultSeverity: 'error',
    docs: 'docs/rules/recursive-flow.md',
    help: 'A subflow called again before it returns never unwinds: repeat inside one flow with a transition back to an earlier state (a loop, bounded by attempts or a counter), or return to the caller and let it call again.',
  },
  check(ctx) {
    const me = ctx.flow.flow;
    // A second file with a taken name is duplicate-flow's to report; references never reach it.
    if (ctx.project.flows.get(me)?.file !== ctx.file) return;
    const graph = callGraphOf(ctx.project);
    const self = graph.index.get(me)!;
    const way = new WayBack(graph, self);
    for (const name of ctx.analysis.statesWith('callFlow')) {
      const body = (ctx.flow.states[name] as { callFlow?: { flow?: unknown } }).callFlow;
      const target = typeof body?.flow === 'string' ? graph.index.get(body.flow) : undefined;
      if (target === undefined || graph.component[target] !== graph.component[self]) continue;
      const cycle = target === self ? undefined : way.from(target);
      ctx.report({
        path: ['states', name, 'callFlow', 'flow'],
        message: `states.${name}.callFlow.flow: flow '${me}' calls itself ${cycle ? `through ${listFlows(cycle.map((i) => graph.names[i]!))}` : 'directly'}; every round adds a call that waits for the next one to return, and past the runtime's call depth limit the call fails: loop back to an earlier state instead, or return and let the caller call again`,
      });
    }
  },
};

function callGraphOf(project: ProjectIndex): CallGraph {
  let graph = graphs.get(project);
  if (graph) return graph;
  const names = [...project.flows.keys()];
  const index = new Map(names.map((n, i) => [n, i]));
  const successors: number[][] = names.map(() => []);
  const predecessors: number[][] = names.map(() => []);
  names.forEach((name, i) => {
    for (const target of calledFlows(project.flows.get(name)!)) {
      const j = index.get(target);
      if (j === undefined) continue;
      successors[i]!.push(j);
      predecessors[j]!.push(i);
    }
  });
  graph = { index, names, successors, predecessors, component: stronglyConnected(successors).component };
  graphs.set(project, graph);
  return graph;
}

/** The flows a flow calls with `callFlow`. */
function calledFlows(loaded: LoadedFlow): string[] {
  const out: string[] = [];
  for (const state of Object.values(loaded.flow.states)) {
    const target = (state as { callFlow?: { flow?: unknown } }).callFlow?.flow;
    if (typeof target === 'string') out.push(target);
  }
  return out;
}

/**
 * The shortest way from any flow of `self`'s component back to `self`: one breadth-first
 * search backwards from `self`, inside the component, made the first time it is asked.
 */
class WayBack {
  private next?: Int32Array;
  constructor(
    private readonly graph: CallGraph,
    private readonly self: number,
  ) {}

  /** `[from, …, self]`. */
  from(start: number): number[] {
    const next = (this.next ??= this.search());
    const way = [start];
    for (let v = start; v !== this.self; ) {
      v = next[v]!;
      way.push(v);
    }
    return way;
  }

  private search(): Int32Array {
    const { predecessors, component } = this.graph;
    const next = new Int32Array(component.length).fill(-1);
    const home = component[this.self];
    next[this.self] = this.self;
    const queue = [this.self];
    for (let head = 0; head < queue.length; head++) {
      const v = queue[head]!;
      for (const u of predecessors[v]!) {
        if (next[u] !== -1 || component[u] !== home) continue;
        next[u] = v;
        queue.push(u);
      }
    }
    return next;
  }
}

/** `'b' → 'a'`, or `'b' → 'c' → 'd' → … (40 flows) → 'a'` for a long cycle. */
function listFlows(names: readonly string[]): string {
  const quoted = names.map((n) => `'${n}'`);
  if (quoted.length <= MAX_LISTED_FLOWS) return quoted.join(' → ');
  return [...quoted.slice(0, MAX_LISTED_FLOWS - 1), `… (${quoted.length} flows)`, quoted[quoted.length - 1]!].join(' → ');
}

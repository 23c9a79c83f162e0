/**
 * A linearizability checker for histories of a register, a compare-and-set
 * register, a counter or a key-value store of such registers, read from
 * Jepsen's log format.
 *
 * The search follows Wing and Gong as refined by Lowe ("Testing for
 * linearizability", 2017): call and return events sit in one time-ordered
 * list; the search linearizes a pending call whenever the model accepts it,
 * removes its events from the list and restarts from the front, and it
 * backtracks when it reaches the return of an operation it has not
 * linearized. A set of (linearized operations, state) pairs already
 * explored prunes repeated work. A key-value history is checked per key,
 * because linearizability is local: the whole history is linearizable
 * exactly when each key's sub-history is.
 *
 * Semantics of Jepsen completions: `:ok` took effect with the output shown;
 * `:fail` did not take effect, and a failed compare-and-set also states
 * that the register did not hold the expected value; `:info` may have taken
 * effect at any time after its invocation, or never, so its return is at
 * the end of time. An invocation never completed counts as `:info`.
 */

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export type RegisterValue = number | null;

export type HistoryOperation = {
  process: number;
  /** Key of a key-value history; '' for a single register. */
  key: string;
  /** Event positions in the log: the invocation, and the completion (Infinity for :info). */
  call: number;
  ret: number;
} & (
  | { f: 'read'; output: RegisterValue }
  | { f: 'write'; value: RegisterValue }
  /** `swapped` is undefined when the outcome is unknown (:info). */
  | { f: 'cas'; from: RegisterValue; to: RegisterValue; swapped: boolean | undefined }
  /** `output` is the counter after the increment; undefined when unknown. */
  | { f: 'incr'; output: RegisterValue | undefined }
);

/** A log line or value the parser cannot read. */
export class HistoryFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistoryFormatError';
  }
}

type Edn = number | string | null | Edn[];

const LINE = /^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:([a-z-]+)\s+(.*?)\s*$/;

/** Parse the EDN subset of Jepsen values: integers, nil, symbols and nested vectors. */
function parseEdn(text: string, where: string): Edn {
  const tokens = text.match(/\[|\]|[^\s[\],]+/g) ?? [];
  let position = 0;
  const read = (): Edn => {
    const token = tokens[position++];
    if (token === undefined) throw new HistoryFormatError(`${where}: value '${text}' ends early`);
    if (token === '[') {
      const items: Edn[] = [];
      while (tokens[position] !== ']') {
        if (position >= tokens.length) throw new HistoryFormatError(`${where}: value '${text}' misses a ']'`);
        items.push(read());
      }
      position++;
      return items;
    }
    if (token === ']') throw new HistoryFormatError(`${where}: value '${text}' has an unmatched ']'`);
    if (token === 'nil') return null;
    if (!/^-?\d+$/.test(token)) return token.replace(/^:/, '');
    const n = Number(token);
    // Beyond 2^53 two different integers parse to the same double and the verdict could be wrong.
    if (!Number.isSafeInteger(n)) {
      throw new HistoryFormatError(`${where}: integer ${token} is beyond 2^53, which the checker cannot compare exactly`);
    }
    return n;
  };
  const value = read();
  if (position !== tokens.length) throw new HistoryFormatError(`${where}: value '${text}' has trailing tokens`);
  return value;
}

function asValue(value: Edn | undefined, where: string): RegisterValue {
  if (value === null || typeof value === 'number') return value;
  throw new HistoryFormatError(`${where}: ${JSON.stringify(value)} is not an integer or nil`);
}

/** Split `[key value]` of a key-value history; a single register has key ''. */
function splitKey(f: string, value: Edn, where: string): { key: string; value: Edn } {
  const keyed = Array.isArray(value) && value.length === 2 && (f !== 'cas' || Array.isArray(value[1]));
  if (!keyed) return { key: '', value };
  const [key, inner] = value as [Edn, Edn];
  if (typeof key !== 'string' && typeof key !== 'number') {
    throw new HistoryFormatError(`${where}: key ${JSON.stringify(key)} is not a symbol or integer`);
  }
  return { key: String(key), value: inner };
}

interface Invocation {
  f: string;
  call: number;
  value: Edn;
  key: string;
}

/** Parse a Jepsen log into operations; lines that are not Jepsen events are ignored. */
export function parseJepsenLog(text: string, source = 'history'): HistoryOperation[] {
  const open = new Map<number, Invocation>();
  const ops: HistoryOperation[] = [];
  let event = 0;

  text.split('\n').forEach((line, index) => {
    const match = LINE.exec(line);
    if (!match) return;
    const where = `${source} line ${index + 1}`;
    const [, processText, type, f, valueText] = match as unknown as [string, string, string, string, string];
    const process = Number(processText);
    const { key, value } = splitKey(f, parseEdn(valueText, where), where);
    event += 1;

    if (type === 'invoke') {
      if (open.has(process)) {
        throw new HistoryFormatError(`${where}: process ${process} invokes while an operation is open`);
      }
      open.set(process, { f, call: event, value, key });
      return;
    }
    const invocation = open.get(process);
    if (invocation === undefined) {
      throw new HistoryFormatError(`${where}: process ${process} completes an operation it never invoked`);
    }
    if (invocation.f !== f) {
      throw new HistoryFormatError(`${where}: process ${process} completes :${f} but invoked :${invocation.f}`);
    }
    open.delete(process);
    // An :info completion may carry a reason such as :timed-out instead of a value.
    const completed = type === 'info' ? invocation.value : value;
    const op = toOperation(process, invocation, type as 'ok' | 'fail' | 'info', completed, event, where);
    if (op !== undefined) ops.push(op);
  });

  for (const [process, invocation] of open) {
    const op = toOperation(process, invocation, 'info', invocation.value, Infinity, source);
    if (op !== undefined) ops.push(op);
  }
  return ops;
}

function toOperation(
  process: number,
  invocation: Invocation,
  type: 'ok' | 'fail' | 'info',
  value: Edn,
  completion: number,
  where: string,
): HistoryOperation | undefined {
  const ret = type === 'info' ? Infinity : completion;
  const base = { process, key: invocation.key, call: invocation.call, ret };
  switch (invocation.f) {
    case 'read':
      // A read that failed or whose outcome is unknown constrains nothing.
      return type === 'ok' ? { ...base, f: 'read', output: asValue(value, where) } : undefined;
    case 'write':
      return type === 'fail' ? undefined : { ...base, f: 'write', value: asValue(value, where) };
    case 'cas': {
      if (!Array.isArray(value) || value.length !== 2) {
        throw new HistoryFormatError(`${where}: cas value ${JSON.stringify(value)} is not [from to]`);
      }
      const swapped = type === 'info' ? undefined : type === 'ok';
      return { ...base, f: 'cas', from: asValue(value[0], where), to: asValue(value[1], where), swapped };
    }
    case 'incr':
      if (type === 'fail') return undefined;
      return { ...base, f: 'incr', output: type === 'ok' ? asValue(value, where) : undefined };
    default:
      throw new HistoryFormatError(`${where}: operation :${invocation.f} is not read, write, cas or incr`);
  }
}

/** Apply `op` to `state`; returns the next state, or undefined when the output contradicts the state. */
export function stepRegister(state: RegisterValue, op: HistoryOperation): RegisterValue | undefined {
  switch (op.f) {
    case 'read':
      return op.output === state ? state : undefined;
    case 'write':
      return op.value;
    case 'cas': {
      const matches = state === op.from;
      if (op.swapped === undefined) return matches ? op.to : state;
      if (op.swapped !== matches) return undefined;
      return matches ? op.to : state;
    }
    case 'incr': {
      const next = (state ?? 0) + 1;
      return op.output === undefined || op.output === next ? next : undefined;
    }
  }
}

export interface CheckOptions {
  /** Milliseconds of search before the answer is "unknown" (default 10 000). */
  timeBudgetMs?: number;
  /** The register's value before the history (default nil). */
  initial?: RegisterValue;
}

export interface CheckResult {
  verdict: Verdict;
  /** Verdict per key; the single register of a plain history has key ''. */
  keys: Map<string, Verdict>;
}

export const DEFAULT_TIME_BUDGET_MS = 10_000;

/** Decide a history, key by key, within one shared time budget. */
export function checkOperations(ops: readonly HistoryOperation[], options: CheckOptions = {}): CheckResult {
  const deadline = Date.now() + (options.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS);
  const byKey = new Map<string, HistoryOperation[]>();
  for (const op of ops) byKey.set(op.key, [...(byKey.get(op.key) ?? []), op]);

  const keys = new Map<string, Verdict>();
  for (const [key, keyOps] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
    keys.set(key, checkRegister(keyOps, options.initial ?? null, deadline));
  }
  const verdicts = [...keys.values()];
  const verdict = verdicts.includes('not-linearizable')
    ? 'not-linearizable'
    : verdicts.includes('unknown')
      ? 'unknown'
      : 'linearizable';
  return { verdict, keys };
}

/** Parse and decide a Jepsen log. */
export function checkJepsenLog(text: string, options: CheckOptions = {}, source?: string): CheckResult {
  return checkOperations(parseJepsenLog(text, source), options);
}

/** One event of the search list; a call links to its return. */
interface Entry {
  op: number;
  isCall: boolean;
  time: number;
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** Build the doubly linked event list, calls before returns at equal times; returns its head sentinel. */
function buildEntries(ops: readonly HistoryOperation[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((op, i) => {
    const call: Entry = { op: i, isCall: true, time: op.call, match: undefined, prev: undefined, next: undefined };
    const ret: Entry = { op: i, isCall: false, time: op.ret, match: undefined, prev: undefined, next: undefined };
    call.match = ret;
    entries.push(call, ret);
  });
  entries.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);

  const head: Entry = { op: -1, isCall: false, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const entry of entries) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

/** Unlink a call and its return from the list. */
function lift(call: Entry): void {
  for (const entry of [call, call.match!]) {
    entry.prev!.next = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
  }
}

/** Relink a lifted call and its return, in the reverse order of lift. */
function unlift(call: Entry): void {
  for (const entry of [call.match!, call]) {
    entry.prev!.next = entry;
    if (entry.next) entry.next.prev = entry;
  }
}

const DEADLINE_CHECK_INTERVAL = 4096;

function checkRegister(ops: readonly HistoryOperation[], initial: RegisterValue, deadline: number): Verdict {
  const head = buildEntries(ops);
  // Explored (linearized set, state) pairs, keyed by the set; a pair seen again cannot lead anywhere new.
  const explored = new Map<bigint, Set<RegisterValue>>();
  const stack: { call: Entry; state: RegisterValue }[] = [];
  let linearized = 0n;
  let state = initial;
  let entry = head.next;
  let steps = 0;

  while (head.next !== undefined) {
    if (++steps % DEADLINE_CHECK_INTERVAL === 0 && Date.now() > deadline) return 'unknown';
    if (entry === undefined) return 'not-linearizable';

    if (entry.isCall) {
      const next = stepRegister(state, ops[entry.op]!);
      if (next !== undefined) {
        const set = linearized | (1n << BigInt(entry.op));
        const states = explored.get(set) ?? new Set<RegisterValue>();
        if (!states.has(next)) {
          states.add(next);
          explored.set(set, states);
          stack.push({ call: entry, state });
          state = next;
          linearized = set;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
      continue;
    }

    // The return of an operation not yet linearized: undo the latest choice.
    const top = stack.pop();
    if (top === undefined) return 'not-linearizable';
    state = top.state;
    linearized &= ~(1n << BigInt(top.call.op));
    unlift(top.call);
    entry = top.call.next;
  }
  return 'linearizable';
}

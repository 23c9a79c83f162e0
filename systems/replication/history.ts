/**
 * A client history in Jepsen's log format, one line per event:
 * `INFO  jepsen.util - PROCESS<TAB>:TYPE<TAB>:F<TAB>VALUE`. Key-value
 * operations carry their key as in Jepsen's independent checker:
 * `:read [k v]`, `:write [k v]`, `:cas [k [from to]]`. A compare-and-set
 * that did not swap completes as `:fail`; an operation still pending when
 * the run ends completes as `:info` (outcome unknown).
 */

import type { Operation, Output } from './state_machine.ts';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

export interface HistoryEvent {
  process: number;
  type: EventType;
  f: 'read' | 'write' | 'cas' | 'incr';
  /** The value in Jepsen's EDN notation, e.g. `nil`, `3`, `[a [1 2]]`. */
  value: string;
}

export class History {
  readonly events: HistoryEvent[] = [];
  #pending = new Map<number, Operation>();

  invoke(process: number, op: Operation): void {
    if (this.#pending.has(process)) throw new Error(`process ${process} invoked an operation while one is pending`);
    this.#pending.set(process, op);
    this.events.push({ process, type: 'invoke', ...describe(op, undefined) });
  }

  complete(process: number, output: Output): void {
    const op = this.#pending.get(process);
    if (op === undefined) throw new Error(`process ${process} completed an operation it never invoked`);
    this.#pending.delete(process);
    const type = op.f === 'cas' && output === false ? 'fail' : 'ok';
    this.events.push({ process, type, ...describe(op, output) });
  }

  /** Complete every pending operation as `:info`: it may or may not have taken effect. */
  closePending(): number {
    const pending = [...this.#pending.entries()];
    for (const [process, op] of pending) this.events.push({ process, type: 'info', ...describe(op, undefined) });
    this.#pending.clear();
    return pending.length;
  }

  /** Operations that completed with :ok or :fail. */
  get completed(): number {
    return this.events.filter((e) => e.type === 'ok' || e.type === 'fail').length;
  }

  toJepsenLog(): string {
    return this.events.map((e) => `INFO  jepsen.util - ${e.process}\t:${e.type}\t:${e.f}\t${e.value}\n`).join('');
  }
}

function edn(value: Output | undefined): string {
  return value === undefined || value === null ? 'nil' : String(value);
}

function describe(op: Operation, output: Output | undefined): Pick<HistoryEvent, 'f' | 'value'> {
  switch (op.f) {
    case 'increment':
      return { f: 'incr', value: edn(output) };
    case 'get':
      return { f: 'read', value: `[${op.key} ${edn(output)}]` };
    case 'put':
      return { f: 'write', value: `[${op.key} ${op.value}]` };
    case 'cas':
      return { f: 'cas', value: `[${op.key} [${op.from} ${op.to}]]` };
  }
}

/**
 * Bounded explicit-state model checker of the attested-message protocol. It
 * drives real kernel models (one TnicKernelModel per device, or a mutated
 * copy) breadth first through every interleaving of A's sends, the
 * adversary's deliveries to B and C, and one device compromise. The
 * properties of properties.ts are checked on every transition. Breadth first
 * search makes every reported trace a shortest one.
 *
 * State key and why merging states with equal keys is sound. Two states with
 * equal keys have the same successors, with the same kernel results, and the
 * same property outcomes on every continuation, because the key contains:
 * - each device's send_cnt and recv_cnt per session, read back from the
 *   kernel (device_pool.ts). After provisioning they are the kernel's only
 *   mutable state, so they fix every future result of that device;
 * - A's sent messages as (session, counter, payload). The wire bytes follow
 *   from these and the session key, and the adversary derives every message
 *   it can deliver from them and from the revealed keys;
 * - B's accepted messages per session in order, which is all the properties
 *   read of the past besides the sent messages;
 * - the compromised device, which decides the revealed keys and the excuse
 *   of the authentication properties.
 * C's acceptances are not in the key: transferable_auth looks only at the
 * current acceptance, and a CHECK that changed C's counters shows in them.
 * Step numbers and message origins differ between merged states. They only
 * label the trace of the first state reached.
 *
 * A state entered by a violating step is not expanded: every trace through it
 * is already a counterexample, and without the cut a kernel that accepts
 * replays grows B's accepted log, and so the state space, with every step.
 * Violations that occur only after another one are therefore not reported.
 * A key first reached by a violating step is still expanded when a later
 * step reaches it without a violation, because the key leaves out the tag of
 * B's accepted messages and so cannot tell the two apart.
 *
 * NOTE: sessions are not merged by symmetry. Renaming sessions would also
 * rename keys, so the key would need a session-free form of every message.
 * The saving is at most a factor of two at two sessions.
 */

import type { KernelRequest, KernelResult } from '../../sim/kernel_port.ts';
import { encodeAttested } from '../../stack/attested_message.ts';
import type { KernelModelClass } from '../mutants/model_mutant.ts';
import { deliverableMessages, encodePayload, wireMessage, type SentMessage, type WireMessage } from './adversary.ts';
import { DEVICE_IDS, describeBounds, devicesOf, senderPayload, type DeviceName, type ProtocolBounds } from './config.ts';
import { DevicePool, type DeviceNode } from './device_pool.ts';
import {
  checkCheckAcceptance,
  checkVerifyAcceptance,
  findSent,
  type AcceptedMessage,
  type PropertyName,
  type SanityName,
  type Violation,
} from './properties.ts';

type Action =
  | { kind: 'send'; session: number }
  | { kind: 'deliver'; to: 'B' | 'C'; message: WireMessage }
  | { kind: 'compromise'; device: DeviceName };

/** One numbered step of a trace: what happened and what the kernel returned. */
export interface TraceStep {
  number: number;
  action: string;
  result: string;
}

interface StateNode {
  parent: StateNode | undefined;
  step: TraceStep | undefined;
  depth: number;
  devices: Partial<Record<DeviceName, DeviceNode>>;
  sent: SentMessage[];
  /** B's VERIFY acceptances, per session, in order. */
  accepted: AcceptedMessage[][];
  compromised: { device: DeviceName; step: number } | undefined;
  /** True when the step into this state violated a property. */
  violating: boolean;
}

export interface FoundViolation extends Violation {
  trace: TraceStep[];
}

export interface ProtocolReport {
  bounds: ProtocolBounds;
  /** Name of the kernel that ran, e.g. "reference model" or "mutant drop-counter-check". */
  subject: string;
  states: number;
  transitions: number;
  /** Count of new states one step past maxDepth. Zero means that no state exists beyond the bound. */
  statesBeyondBound: number;
  /** True when the state limit stopped the search before the depth bound. */
  truncated: boolean;
  seconds: number;
  kernelSteps: number;
  cacheHits: number;
  /** The first (shortest) violation of each property that failed. */
  violations: FoundViolation[];
  /** Whether each existence check was reached. check_sanity is absent without device C. */
  sanity: Partial<Record<SanityName, boolean>>;
}

export interface CheckOptions {
  model: KernelModelClass;
  subject: string;
  /** Stop after this many states, reporting the result as truncated. */
  stateLimit?: number;
  log?: (line: string) => void;
  /** Milliseconds between progress lines. */
  progressInterval?: number;
}

const DEFAULT_STATE_LIMIT = 2_000_000;

export function checkProtocol(bounds: ProtocolBounds, options: CheckOptions): ProtocolReport {
  return new ProtocolChecker(bounds, options).run();
}

class ProtocolChecker {
  readonly #bounds: ProtocolBounds;
  readonly #options: CheckOptions;
  readonly #pool: DevicePool;
  readonly #violations = new Map<PropertyName, FoundViolation>();
  readonly #sanity: Partial<Record<SanityName, boolean>>;
  #transitions = 0;

  constructor(bounds: ProtocolBounds, options: CheckOptions) {
    this.#bounds = bounds;
    this.#options = options;
    this.#pool = new DevicePool(options.model, bounds.sessions);
    this.#sanity = bounds.checker ? { send_sanity: false, check_sanity: false } : { send_sanity: false };
  }

  run(): ProtocolReport {
    const started = performance.now();
    const log = this.#options.log ?? (() => {});
    const limit = this.#options.stateLimit ?? DEFAULT_STATE_LIMIT;
    const interval = this.#options.progressInterval ?? 2000;
    log(`protocol check of the ${this.#options.subject}: ${describeBounds(this.#bounds)}`);

    const root = this.#root();
    // Key of every reached state, mapped to whether only violating steps have reached it.
    const visited = new Map<string, boolean>([[this.#key(root), false]]);
    const beyond = new Set<string>();
    const queue: StateNode[] = [root];
    let truncated = false;
    let lastLog = started;

    for (let head = 0; head < queue.length; head++) {
      const node = queue[head]!;
      const atBound = node.depth >= this.#bounds.maxDepth;
      for (const action of this.#actions(node)) {
        // States at the depth bound are expanded only to count what lies beyond it.
        const child = this.#apply(node, action, !atBound);
        const key = this.#key(child);
        const onlyViolating = visited.get(key);
        if (onlyViolating === false || (onlyViolating === true && child.violating)) continue;
        if (atBound) {
          if (onlyViolating === undefined) beyond.add(key);
          continue;
        }
        visited.set(key, child.violating);
        if (!child.violating) queue.push(child);
      }
      if (visited.size >= limit) {
        truncated = true;
        log(`stopped at the state limit of ${limit} states`);
        break;
      }
      // Free the explored prefix of the queue. Parents stay reachable through the trace links.
      if (head > 100_000) {
        queue.splice(0, head + 1);
        head = -1;
      }
      const now = performance.now();
      if (now - lastLog >= interval) {
        lastLog = now;
        log(
          `  depth ${node.depth}: ${visited.size} states, ${this.#transitions} transitions, ` +
            `${queue.length - head - 1} queued, ${((now - started) / 1000).toFixed(1)} s`,
        );
      }
    }

    return {
      bounds: this.#bounds,
      subject: this.#options.subject,
      states: visited.size,
      transitions: this.#transitions,
      statesBeyondBound: beyond.size,
      truncated,
      seconds: (performance.now() - started) / 1000,
      kernelSteps: this.#pool.kernelSteps,
      cacheHits: this.#pool.cacheHits,
      violations: [...this.#violations.values()],
      sanity: this.#sanity,
    };
  }

  #root(): StateNode {
    const devices: Partial<Record<DeviceName, DeviceNode>> = {};
    for (const d of devicesOf(this.#bounds)) devices[d] = this.#pool.root(d);
    const accepted = Array.from({ length: this.#bounds.sessions }, () => []);
    return {
      parent: undefined,
      step: undefined,
      depth: 0,
      devices,
      sent: [],
      accepted,
      compromised: undefined,
      violating: false,
    };
  }

  /**
   * Key of the state, as argued in the file header. A's sent messages are
   * sorted because the order of sends on different sessions is not state.
   */
  #key(node: StateNode): string {
    const devices = devicesOf(this.#bounds).map((d) => `${d}=${node.devices[d]!.fingerprint}`);
    const sent = node.sent.map((s) => `${s.session}:${s.counter}:${s.payload}`).sort();
    const accepted = node.accepted.map((log) => log.map((a) => `${a.device}:${a.counter}:${a.payload}`).join(','));
    return `${devices.join(' ')}|${sent.join(',')}|${accepted.join(';')}|${node.compromised?.device ?? '-'}`;
  }

  /** Whether each session key is revealed: every device has every session key. */
  #revealed(node: StateNode): boolean[] {
    return Array.from({ length: this.#bounds.sessions }, () => node.compromised !== undefined);
  }

  #actions(node: StateNode): Action[] {
    const actions: Action[] = [];
    for (let s = 0; s < this.#bounds.sessions; s++) {
      if (node.sent.filter((m) => m.session === s).length < this.#bounds.messages) actions.push({ kind: 'send', session: s });
    }

    const messages = deliverableMessages(node.sent, this.#revealed(node), this.#bounds.messages);
    for (const message of messages) actions.push({ kind: 'deliver', to: 'B', message });
    if (this.#bounds.checker) {
      for (const message of messages) actions.push({ kind: 'deliver', to: 'C', message });
    }

    // One compromise per trace, because a second one reveals no new key: every device has every key.
    if (this.#bounds.compromise && node.compromised === undefined) {
      for (const device of devicesOf(this.#bounds)) actions.push({ kind: 'compromise', device });
    }
    return actions;
  }

  #apply(node: StateNode, action: Action, checkProperties: boolean): StateNode {
    if (checkProperties) this.#transitions++;
    const number = node.depth + 1;
    const child: StateNode = { ...node, parent: node, depth: number, devices: { ...node.devices }, violating: false };

    switch (action.kind) {
      case 'send':
        return this.#applySend(child, action.session, number);
      case 'deliver':
        return this.#applyDelivery(child, action.to, action.message, number, checkProperties);
      case 'compromise':
        child.compromised = { device: action.device, step: number };
        child.step = {
          number,
          action: `adversary compromises ${action.device} and learns the key of every session`,
          result: 'no kernel command',
        };
        return child;
    }
  }

  #runOn(child: StateNode, device: DeviceName, request: KernelRequest, requestKey: string): KernelResult {
    const { result, next } = this.#pool.step(device, child.devices[device]!, request, requestKey);
    child.devices[device] = next;
    return result;
  }

  #applySend(child: StateNode, session: number, number: number): StateNode {
    const index = child.sent.filter((m) => m.session === session).length;
    const payload = senderPayload(session, index);
    const msg = encodePayload(payload);
    const result = this.#runOn(child, 'A', { op: 'attest', session, msg }, `attest/${session}/${payload}`);

    const tagHex = Buffer.from(result.tag).toString('hex').slice(0, 16);
    child.step = {
      number,
      action: `A sends "${payload}" on session ${session}`,
      result: `ATTEST ${result.status}, counter ${result.counter}, tag ${tagHex}...`,
    };
    if (result.status === 'ok') {
      const bytes = encodeAttested({ alpha: result.tag, session, device: DEVICE_IDS.A, counter: result.counter, msg });
      const wire = wireMessage(bytes, `copy of step ${number}`);
      child.sent = [...child.sent, { session, counter: result.counter, payload, step: number, wire }];
    }
    return child;
  }

  #applyDelivery(
    child: StateNode,
    to: 'B' | 'C',
    message: WireMessage,
    number: number,
    checkProperties: boolean,
  ): StateNode {
    const f = message.fields;
    const op = to === 'B' ? 'verify' : 'check';
    const request: KernelRequest = { op, session: f.session, device: f.device, counter: f.counter, tag: f.alpha, msg: f.msg };
    const result = this.#runOn(child, to, request, `${op}/${message.hex}`);

    const what = `${message.origin} (session ${f.session}, header device ${f.device}, counter ${f.counter}, payload "${message.payload}")`;
    child.step = {
      number,
      action: to === 'B' ? `adversary delivers to B: ${what}` : `adversary forwards to C: ${what}`,
      result: to === 'B' ? `VERIFY ${result.status}, recv_cnt was ${result.counter}` : `CHECK ${result.status}`,
    };
    if (result.status !== 'ok') return child;

    const ctx = {
      step: number,
      session: f.session,
      message,
      sent: child.sent,
      excuse: this.#excuse(child),
      authRule: this.#bounds.authRule,
    };
    const genuine = findSent(child.sent, message) !== undefined;
    if (to === 'B') {
      const accepted = child.accepted[f.session] ?? [];
      if (checkProperties) this.#record(child, checkVerifyAcceptance(ctx, accepted));
      if (checkProperties && genuine) this.#sanity.send_sanity = true;
      child.accepted = child.accepted.map((log, s) =>
        s === f.session ? [...log, { device: f.device, counter: f.counter, payload: message.payload, step: number }] : log,
      );
    } else {
      if (checkProperties) this.#record(child, checkCheckAcceptance(ctx));
      if (checkProperties && genuine) this.#sanity.check_sanity = true;
    }
    return child;
  }

  /** Reason that an acceptance of a message A never sent is allowed at this point, or undefined. */
  #excuse(node: StateNode): string | undefined {
    const c = node.compromised;
    if (!c) return undefined;
    if (this.#bounds.authRule === 'sender-compromised' && c.device !== 'A') return undefined;
    return `${c.device} was compromised at step ${c.step}`;
  }

  #record(node: StateNode, violations: Violation[]): void {
    if (violations.length > 0) node.violating = true;
    for (const v of violations) {
      if (this.#violations.has(v.property)) continue;
      this.#violations.set(v.property, { ...v, trace: traceOf(node) });
    }
  }
}

/** Collect the numbered steps from the initial state to `node`. */
function traceOf(node: StateNode): TraceStep[] {
  const steps: TraceStep[] = [];
  for (let n: StateNode | undefined = node; n?.step; n = n.parent) steps.push(n.step);
  return steps.reverse();
}

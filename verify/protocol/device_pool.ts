/**
 * Runs requests on real kernel models (sim/tnic_kernel.ts or a mutated copy)
 * for the protocol checker. The model's state is private and cannot be
 * copied, so a device in a given state is rebuilt by provisioning a fresh
 * model and replaying the requests that led there.
 *
 * After every request the pool reads the device's counters back through the
 * kernel's own interface, on the replayed copy that is then thrown away:
 * VERIFY with an all-zero tag returns recv_cnt, and ATTEST returns send_cnt.
 * These counters are the device fingerprint. Keys, device id and lock are
 * written only by provisioning, which ends with LOCK before any request of
 * the checker, so two replicas with equal fingerprints are in the same state
 * and return the same result for every request. That lets results be cached
 * by (device, fingerprint, request).
 */

import { TnicError } from '../../sim/errors.ts';
import type { KernelRequest, KernelResult } from '../../sim/kernel_port.ts';
import { TAG_BYTES } from '../../sim/kernel_port.ts';
import type { KernelModelClass } from '../mutants/model_mutant.ts';
import { DEVICE_IDS, sessionKey, type DeviceName } from './config.ts';

/** One device state, reached by replaying the chain of requests from a fresh model. */
export interface DeviceNode {
  parent: DeviceNode | undefined;
  request: KernelRequest | undefined;
  /** send_cnt and recv_cnt of every session, read back from the kernel. */
  fingerprint: string;
}

interface CachedStep {
  result: KernelResult;
  fingerprint: string;
}

export class DevicePool {
  readonly #model: KernelModelClass;
  readonly #sessions: number;
  readonly #cache = new Map<string, CachedStep>();
  /** Count of requests run on kernel models, replays and probes included. */
  kernelSteps = 0;
  /** Count of results taken from the cache without running a model. */
  cacheHits = 0;

  constructor(model: KernelModelClass, sessions: number) {
    this.#model = model;
    this.#sessions = sessions;
  }

  /** Provision `device` and return its state before any request of the checker. */
  root(device: DeviceName): DeviceNode {
    const model = this.#provision(device);
    return { parent: undefined, request: undefined, fingerprint: this.#probe(model) };
  }

  /** Run `request` on `device` in state `node`. `requestKey` identifies the request's bytes. */
  step(device: DeviceName, node: DeviceNode, request: KernelRequest, requestKey: string): {
    result: KernelResult;
    next: DeviceNode;
  } {
    const cacheKey = `${device}|${node.fingerprint}|${requestKey}`;
    let cached = this.#cache.get(cacheKey);
    if (cached) {
      this.cacheHits++;
    } else {
      const model = this.#replay(device, node);
      const result = this.#run(model, request);
      cached = { result, fingerprint: this.#probe(model) };
      this.#cache.set(cacheKey, cached);
    }
    return { result: cached.result, next: { parent: node, request, fingerprint: cached.fingerprint } };
  }

  #run(model: InstanceType<KernelModelClass>, request: KernelRequest): KernelResult {
    this.kernelSteps++;
    return model.step(request);
  }

  #provision(device: DeviceName): InstanceType<KernelModelClass> {
    const model = new this.#model();
    for (let s = 0; s < this.#sessions; s++) {
      this.#expectOk(device, model.step({ op: 'load-key', session: s, key: sessionKey(s) }), `LOAD_KEY ${s}`);
    }
    this.#expectOk(device, model.step({ op: 'set-id', device: DEVICE_IDS[device] }), 'SET_ID');
    this.#expectOk(device, model.step({ op: 'lock' }), 'LOCK');
    return model;
  }

  #expectOk(device: DeviceName, result: KernelResult, what: string): void {
    if (result.status !== 'ok') {
      throw new TnicError(
        'provisioning-failed',
        `provisioning device ${device} failed: ${what} returned ${result.status}; the kernel under test must accept LOAD_KEY, SET_ID and LOCK once each`,
      );
    }
  }

  #replay(device: DeviceName, node: DeviceNode): InstanceType<KernelModelClass> {
    const chain: KernelRequest[] = [];
    for (let n: DeviceNode | undefined = node; n?.request; n = n.parent) chain.push(n.request);
    const model = this.#provision(device);
    for (let i = chain.length - 1; i >= 0; i--) this.#run(model, chain[i]!);
    return model;
  }

  /**
   * Read recv_cnt of every session first and send_cnt after: each probe may
   * change only the counter it reads (a mutant may advance recv_cnt on the
   * failed VERIFY), so no read returns a value an earlier probe changed.
   */
  #probe(model: InstanceType<KernelModelClass>): string {
    const recv: bigint[] = [];
    const send: bigint[] = [];
    for (let s = 0; s < this.#sessions; s++) {
      const probe: KernelRequest = {
        op: 'verify',
        session: s,
        device: 0,
        counter: 0n,
        tag: new Uint8Array(TAG_BYTES),
        msg: new Uint8Array(0),
      };
      recv.push(this.#run(model, probe).counter);
    }
    for (let s = 0; s < this.#sessions; s++) {
      send.push(this.#run(model, { op: 'attest', session: s, msg: new Uint8Array(0) }).counter);
    }
    return send.map((c, s) => `${c}/${recv[s]}`).join(',');
  }
}

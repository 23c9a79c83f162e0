/**
 * Bounded check of bootstrapping and remote attestation against a
 * man-in-the-middle between the vendor and the device controller, on the
 * real code of stack/bootstrap and a real device. The attacker records
 * every message in both directions and, in each strategy, flips one byte
 * of one byte array of one message, or replays a quote from an earlier
 * run. Properties checked after every strategy:
 *   keys_secret: no recorded message contains the session key's bytes;
 *   initialization_attested: when the vendor reports success, the device
 *     attests on the session with exactly the vendor's key and device id,
 *     and is locked (a further LOAD_KEY is rejected);
 *   no_wrong_configuration: whatever the outcome, the device either has no
 *     key for the session or the vendor's key, never another one.
 * The strategies are enumerated, so the check is bounded by them; it does
 * not cover an attacker that rewrites several messages at once.
 */

import { createHmac, randomBytes } from 'node:crypto';

import { DeviceHardware, type ControllerPort, type DeviceController } from '../../stack/bootstrap/device_controller.ts';
import { IpVendor } from '../../stack/bootstrap/ip_vendor.ts';
import type { Quote } from '../../stack/bootstrap/certificates.ts';
import { TnicDevice } from '../../stack/tnic_device.ts';
import { decodeAttested } from '../../stack/attested_message.ts';
import { encodeHeader } from '../../sim/tnic_kernel.ts';

const SESSION = 3;
const DEVICE_ID = 7;
const CODE = new TextEncoder().encode('controller binary v1');

type Step = 'quote' | 'vendor-hello' | 'controller-hello' | 'record' | 'ack';
const STEPS: readonly Step[] = ['quote', 'vendor-hello', 'controller-hello', 'record', 'ack'];

export interface Strategy {
  name: string;
  /** Message to change, and which of its byte arrays (in traversal order) gets a flipped byte. */
  flip?: { step: Step; field: number };
  /** Reply to the vendor's challenge with a quote recorded in an earlier run. */
  replayQuote?: boolean;
}

export interface StrategyResult {
  strategy: string;
  outcome: string;
  violations: string[];
}

/** Byte arrays of a message in a fixed traversal order. */
function byteArrays(value: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (value instanceof Uint8Array) out.push(value);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) byteArrays(v, out);
  return out;
}

/** Copy `value` deeply with one byte flipped in its `field`-th byte array; return undefined if it has fewer. */
function flipped<T>(value: T, field: number): T | undefined {
  let index = 0;
  let done = false;
  const copy = (v: unknown): unknown => {
    if (v instanceof Uint8Array) {
      const c = v.slice();
      if (index++ === field && c.length > 0) {
        c[c.length - 1]! ^= 0x01;
        done = true;
      }
      return c;
    }
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)]));
    }
    return v;
  };
  const result = copy(value) as T;
  return done ? result : undefined;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle));
}

/** A port that records every message and applies the strategy's change. */
class Interceptor implements ControllerPort {
  readonly seen: Uint8Array[] = [];
  /** Byte arrays per message kind, as the strategies number them. */
  readonly arrays = new Map<Step, number>();
  applied = false;

  constructor(
    private readonly inner: ControllerPort,
    private readonly strategy: Strategy,
    private readonly oldQuote: Quote | undefined,
  ) {}

  #pass<T>(step: Step, message: T): T {
    const arrays = byteArrays(message);
    this.seen.push(...arrays);
    this.arrays.set(step, arrays.length);
    const f = this.strategy.flip;
    if (f === undefined || f.step !== step) return message;
    const changed = flipped(message, f.field);
    if (changed === undefined) return message;
    this.applied = true;
    return changed;
  }

  async quote(nonce: Uint8Array): Promise<Quote> {
    const real = await this.inner.quote(nonce);
    if (this.strategy.replayQuote && this.oldQuote) {
      this.applied = true;
      this.seen.push(...byteArrays(this.oldQuote));
      return this.oldQuote;
    }
    return this.#pass('quote', real);
  }

  async acceptHandshake(hello: Parameters<ControllerPort['acceptHandshake']>[0]): ReturnType<ControllerPort['acceptHandshake']> {
    const reply = await this.inner.acceptHandshake(this.#pass('vendor-hello', hello));
    return this.#pass('controller-hello', reply);
  }

  async provision(record: Uint8Array): Promise<Uint8Array> {
    const ack = await this.inner.provision(this.#pass('record', record));
    return this.#pass('ack', ack);
  }
}

/** List a flip of every byte array of every message kind, as counted in an unattacked run. */
function flipStrategies(arrays: Map<Step, number>): Strategy[] {
  const list: Strategy[] = [];
  for (const step of STEPS) {
    for (let field = 0; field < (arrays.get(step) ?? 0); field++) {
      list.push({ name: `flip ${step} array ${field}`, flip: { step, field } });
    }
  }
  return list;
}

/** Get a genuine quote of this device for an earlier challenge of the same vendor. */
async function earlierQuote(vendor: IpVendor, hardware: DeviceHardware): Promise<Quote> {
  const scratch = await TnicDevice.open('model', DEVICE_ID);
  try {
    const controller = await hardware.bootController(vendor.controllerImage, scratch);
    return await controller.quote(vendor.challenge());
  } finally {
    await scratch.close();
  }
}

async function runStrategy(strategy: Strategy): Promise<StrategyResult & { arrays: Map<Step, number> }> {
  const key = new Uint8Array(randomBytes(32));
  const vendor = await IpVendor.create(CODE);
  const hardware = await DeviceHardware.manufacture();
  vendor.registerDevice(hardware.publicKey, DEVICE_ID);
  const oldQuote = strategy.replayQuote ? await earlierQuote(vendor, hardware) : undefined;
  const device = await TnicDevice.open('model', DEVICE_ID);
  const violations: string[] = [];
  let outcome: string;
  let arrays = new Map<Step, number>();
  try {
    const controller: DeviceController = await hardware.bootController(vendor.controllerImage, device);
    const port = new Interceptor(controller, strategy, oldQuote);
    arrays = port.arrays;
    let succeeded = false;
    try {
      await vendor.bootstrap(port, [{ session: SESSION, key }]);
      succeeded = true;
      outcome = 'provisioned';
    } catch (err) {
      const reason = (err as { reason?: string }).reason ?? (err as Error).message;
      outcome = `rejected: ${reason}`;
    }
    if (strategy.name !== 'pass-through' && !port.applied) outcome += ' (strategy did not apply)';

    // keys_secret: no message on the wire carries the key.
    if (port.seen.some((bytes) => key.length > 0 && contains(bytes, key))) {
      violations.push('keys_secret: a recorded message contains the session key');
    }

    // The key the device attests with now: none, or the vendor's key with the registered id.
    let deviceKey: 'none' | 'vendor-key' | 'other-key' = 'none';
    try {
      const wire = await device.localSend(SESSION, new TextEncoder().encode('probe'));
      const m = decodeAttested(wire);
      const expected = createHmac('sha256', key).update(encodeHeader(SESSION, DEVICE_ID, m.counter)).update(m.msg).digest();
      deviceKey = Buffer.compare(Buffer.from(m.alpha), expected) === 0 && m.device === DEVICE_ID ? 'vendor-key' : 'other-key';
    } catch {
      deviceKey = 'none';
    }
    if (deviceKey === 'other-key') violations.push('no_wrong_configuration: the device attests with a key the vendor did not send');
    if (succeeded && deviceKey !== 'vendor-key') {
      violations.push(`initialization_attested: the vendor reported success but the device holds ${deviceKey}`);
    }
    if (succeeded) {
      const relock = await device.provision(SESSION + 1, new Uint8Array(32)).then(
        () => 'accepted',
        () => 'rejected',
      );
      if (relock !== 'rejected') violations.push('initialization_attested: the device is not locked after provisioning');
    }
  } finally {
    await device.close();
  }
  return { strategy: strategy.name, outcome, violations, arrays };
}

/**
 * Run no attack, a quote replay, then a flip of every byte array of every
 * message, each on a fresh vendor, device and session key.
 */
export async function checkBootstrap(progress?: (done: number, total: number) => void): Promise<StrategyResult[]> {
  const plain = await runStrategy({ name: 'pass-through' });
  const all = [{ name: 'replay-quote', replayQuote: true }, ...flipStrategies(plain.arrays)];
  const results: StrategyResult[] = [{ strategy: plain.strategy, outcome: plain.outcome, violations: plain.violations }];
  for (const [i, s] of all.entries()) {
    const r = await runStrategy(s);
    results.push({ strategy: r.strategy, outcome: r.outcome, violations: r.violations });
    progress?.(i + 2, all.length + 1);
  }
  return results;
}

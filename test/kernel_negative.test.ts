import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { TnicDevice, type Backend } from '../stack/tnic_device.ts';
import { decodeAttested, encodeAttested } from '../stack/attested_message.ts';

const KEY = new Uint8Array(32).fill(0x42);
const OTHER_KEY = new Uint8Array(32).fill(0x43);
const msg = (text: string): Uint8Array => new TextEncoder().encode(text);

describe.each(['model', 'rtl'] as Backend[])('kernel rejections on the %s backend', (backend) => {
  let sender: TnicDevice;
  let receiver: TnicDevice;
  let wrongKey: TnicDevice;

  beforeAll(async () => {
    [sender, receiver, wrongKey] = await Promise.all([
      TnicDevice.open(backend, 1),
      TnicDevice.open(backend, 2),
      TnicDevice.open(backend, 3),
    ]);
  });
  beforeEach(async () => {
    // Fresh keys and counters for every case.
    for (const d of [sender, receiver, wrongKey]) await d.reset();
    await sender.provision(0, KEY);
    await receiver.provision(0, KEY);
    await wrongKey.provision(0, OTHER_KEY);
  });
  afterAll(async () => {
    await Promise.all([sender.close(), receiver.close(), wrongKey.close()]);
  });

  it('accepts messages in order', async () => {
    for (let i = 0; i < 3; i++) {
      const v = await receiver.localVerify(await sender.localSend(0, msg(`m${i}`)));
      expect(v.reason, `message ${i}`).toBe('ok');
      expect(v.message.counter).toBe(BigInt(i));
    }
  });

  it('rejects a flipped tag bit as bad-tag and keeps the counter', async () => {
    const wire = await sender.localSend(0, msg('pay 10'));
    const tampered = wire.slice();
    tampered[5]! ^= 0x10;
    expect((await receiver.localVerify(tampered)).reason).toBe('bad-tag');
    // The genuine message with counter 0 is still accepted: the rejection moved nothing.
    expect((await receiver.localVerify(wire)).reason).toBe('ok');
  });

  it('rejects a flipped message byte as bad-tag', async () => {
    const wire = await sender.localSend(0, msg('pay 10'));
    wire[wire.length - 1]! ^= 1;
    expect((await receiver.localVerify(wire)).reason).toBe('bad-tag');
  });

  it('rejects a replayed counter', async () => {
    const wire = await sender.localSend(0, msg('once'));
    expect((await receiver.localVerify(wire)).reason).toBe('ok');
    const again = await receiver.localVerify(wire);
    expect(again.reason).toBe('replayed');
    expect(again.expected, 'recv_cnt after one accepted message').toBe(1n);
  });

  it('rejects a skipped counter as gap, then accepts in order', async () => {
    const first = await sender.localSend(0, msg('first'));
    const second = await sender.localSend(0, msg('second'));
    const gap = await receiver.localVerify(second);
    expect(gap.reason).toBe('gap');
    expect(gap.expected).toBe(0n);
    expect((await receiver.localVerify(first)).reason).toBe('ok');
    expect((await receiver.localVerify(second)).reason).toBe('ok');
  });

  it('rejects a message under the wrong key', async () => {
    const wire = await sender.localSend(0, msg('hello'));
    expect((await wrongKey.localVerify(wire)).reason).toBe('bad-tag');
  });

  it('rejects an unknown session', async () => {
    const wire = await sender.localSend(0, msg('hello'));
    const m = decodeAttested(wire);
    const moved = encodeAttested({ ...m, session: 9 });
    expect((await receiver.localVerify(moved)).reason).toBe('unknown-session');
    expect((await receiver.localVerify(encodeAttested({ ...m, session: 70000 }))).reason).toBe('unknown-session');
    await expect(sender.localSend(5, msg('x'))).rejects.toThrow(/unknown-session/);
  });

  it('rejects a forged counter in a genuine header', async () => {
    const wire = await sender.localSend(0, msg('hello'));
    const m = decodeAttested(wire);
    expect((await receiver.localVerify(encodeAttested({ ...m, counter: 1n }))).reason).toBe('bad-tag');
  });

  it('checks a forwarded message without counter state', async () => {
    const wire = await sender.localSend(0, msg('forward me'));
    await sender.localSend(0, msg('later'));
    expect((await wrongKey.checkForwarded(wire)).reason).toBe('bad-tag');
    expect((await receiver.checkForwarded(wire)).reason).toBe('ok');
    expect((await receiver.checkForwarded(wire)).reason, 'check is repeatable').toBe('ok');
    expect((await receiver.localVerify(wire)).reason, 'check left recv_cnt at 0').toBe('ok');
  });

  it('rejects a second key for a session and keys after lock', async () => {
    await expect(receiver.provision(0, OTHER_KEY)).rejects.toThrow(/rejected/);
    await receiver.provision(1, OTHER_KEY);
    await receiver.lock();
    await expect(receiver.provision(2, OTHER_KEY)).rejects.toThrow(/locked/);
    // The first key stayed in place.
    expect((await receiver.localVerify(await sender.localSend(0, msg('still')))).reason).toBe('ok');
  });
});

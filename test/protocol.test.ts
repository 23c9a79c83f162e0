import { beforeAll, describe, expect, it } from 'vitest';

import { TnicKernelModel } from '../sim/tnic_kernel.ts';
import { findMutant } from '../verify/mutants/catalog.ts';
import { loadModelMutant } from '../verify/mutants/model_mutant.ts';
import { deliverableMessages, type SentMessage } from '../verify/protocol/adversary.ts';
import { checkProtocol, type ProtocolReport } from '../verify/protocol/checker.ts';
import { defaultBounds, type ProtocolBounds } from '../verify/protocol/config.ts';
import { DevicePool } from '../verify/protocol/device_pool.ts';
import { failedProperties, formatReport } from '../verify/protocol/report.ts';

// Two sessions, two messages each, device C and one compromise: about 1500 states in a few seconds.
const SLICE: Partial<ProtocolBounds> = { sessions: 2, messages: 2, checker: true, compromise: true };

async function checkMutant(name: string, bounds: Partial<ProtocolBounds>): Promise<ProtocolReport> {
  const model = await loadModelMutant(findMutant(name, 'model'));
  return checkProtocol(defaultBounds(bounds), { model, subject: `mutant ${name}` });
}

const violation = (report: ProtocolReport, property: string) => report.violations.find((v) => v.property === property);
const explain = (report: ProtocolReport): string => formatReport(report).join('\n');

describe('protocol checker on the reference model', () => {
  let report: ProtocolReport;
  beforeAll(() => {
    report = checkProtocol(defaultBounds(SLICE), { model: TnicKernelModel, subject: 'reference model' });
  });

  it('holds every property', () => {
    expect(report.violations, explain(report)).toEqual([]);
  });

  it('reaches the genuine acceptances', () => {
    expect(report.sanity.send_sanity).toBe(true);
    expect(report.sanity.check_sanity).toBe(true);
  });

  it('covers every state within the depth', () => {
    expect(report.truncated).toBe(false);
    expect(report.statesBeyondBound).toBe(0);
    expect(report.states).toBeGreaterThan(100);
  });

  it('finds a forgery by B under the sender rule', () => {
    const strict = checkProtocol(defaultBounds({ ...SLICE, sessions: 1, messages: 1, authRule: 'sender-compromised' }), {
      model: TnicKernelModel,
      subject: 'reference model',
    });
    const found = violation(strict, 'verified_msg_is_auth');
    expect(found, explain(strict)).toBeDefined();
    // The shortest trace: compromise a key holder other than A, then deliver a forgery.
    expect(found!.trace.map((s) => s.action)).toEqual([
      expect.stringMatching(/^adversary compromises [BC] /),
      expect.stringMatching(/^adversary delivers to B: forged with the key of session 0/),
    ]);
  });
});

describe('protocol checker on model mutants', () => {
  it('drop-counter-check breaks ordering and uniqueness', async () => {
    const report = await checkMutant('drop-counter-check', { sessions: 1, messages: 2 });
    const double = violation(report, 'no_double_messages');
    const reordered = violation(report, 'no_message_reordering');
    const lost = violation(report, 'no_lost_messages');
    expect(double, explain(report)).toBeDefined();
    expect(reordered, explain(report)).toBeDefined();
    expect(lost, explain(report)).toBeDefined();

    // Send, deliver, deliver the same copy again.
    expect(double!.trace).toHaveLength(3);
    expect(double!.trace[2]!.result).toBe('VERIFY ok, recv_cnt was 1');
    // Violating states are not expanded, so reordering shows as a replay after two acceptances.
    expect(reordered!.trace).toHaveLength(5);
    expect(violation(report, 'verified_msg_is_auth')).toBeUndefined();
  });

  it('advance-on-failed-verify loses a message', async () => {
    const report = await checkMutant('advance-on-failed-verify', { sessions: 1, messages: 2 });
    const lost = violation(report, 'no_lost_messages');
    expect(lost, explain(report)).toBeDefined();
    expect(failedProperties(report)).toEqual(['no_lost_messages']);

    // Two sends, a rejected delivery that still advances recv_cnt, then counter 1 is accepted.
    expect(lost!.trace).toHaveLength(4);
    expect(lost!.trace[2]!.result).toMatch(/^VERIFY (gap|bad-tag), recv_cnt was 0$/);
    expect(lost!.trace[3]!.result).toBe('VERIFY ok, recv_cnt was 1');
  });

  it('tag-prefix-compare accepts a tag A never made', async () => {
    const report = await checkMutant('tag-prefix-compare', { sessions: 1, messages: 1 });
    expect(violation(report, 'verified_msg_is_auth'), explain(report)).toBeDefined();
    expect(violation(report, 'transferable_auth'), explain(report)).toBeDefined();
  });

  it('verify-uses-own-device-id fails the sanity check', async () => {
    const report = await checkMutant('verify-uses-own-device-id', { sessions: 1, messages: 1 });
    expect(report.violations).toEqual([]);
    expect(failedProperties(report)).toEqual(['send_sanity', 'check_sanity']);
  });
});

describe('protocol checker parts', () => {
  it('device pool reads counters back', () => {
    const pool = new DevicePool(TnicKernelModel, 2);
    const root = pool.root('A');
    expect(root.fingerprint).toBe('0/0,0/0');
    const msg = new Uint8Array([1, 2, 3]);
    const { result, next } = pool.step('A', root, { op: 'attest', session: 1, msg }, 'attest/1/010203');
    expect(result.status).toBe('ok');
    expect(result.counter).toBe(0n);
    expect(next.fingerprint).toBe('0/0,1/0');
  });

  it('adversary forges only with revealed keys', () => {
    const none: SentMessage[] = [];
    expect(deliverableMessages(none, [false, false], 2)).toEqual([]);

    const forged = deliverableMessages(none, [false, true], 2);
    expect(forged).toHaveLength(3);
    for (const m of forged) expect(m.fields.session).toBe(1);

    // The forgery with header counter 0 verifies on B, whose recv_cnt is 0.
    const pool = new DevicePool(TnicKernelModel, 2);
    const f = forged.find((m) => m.fields.counter === 0n)!.fields;
    const request = { op: 'verify' as const, session: 1, device: f.device, counter: 0n, tag: f.alpha, msg: f.msg };
    expect(pool.step('B', pool.root('B'), request, 'forged').result.status).toBe('ok');
  });

  it('report numbers the trace steps', async () => {
    const report = await checkMutant('drop-counter-check', { sessions: 1, messages: 1, checker: false });
    const text = explain(report);
    expect(text).toContain('VIOLATED no_double_messages');
    expect(text).toMatch(/^ {2}1\. A sends "s0m0" on session 0$/m);
    expect(text).toMatch(/^ {2}3\. adversary delivers to B: copy of step 1 /m);
  });
});

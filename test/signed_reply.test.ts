import { inspect } from 'node:util';

import { getPublicKeyAsync, keygenAsync } from '@noble/ed25519';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  decodeAttested,
  decodeClientKeyCertificate,
  decodeSignedReply,
  encodeAttested,
  encodeClientKeyCertificate,
  encodeSignedReply,
  SignedReplyFormatError,
  SignRejectedError,
  Tnic,
  type Backend,
  type ClientKeyCertificate,
  type ClientKeyChainFailure,
  type SignedReplyFault,
  type SignRejectReason,
  type TrustRoots,
} from '../api/tnic_api.ts';
import { signCertificate } from '../stack/bootstrap/certificates.ts';
import { signClientKey } from '../stack/bootstrap/client_certificate.ts';
import { DeviceHardware } from '../stack/bootstrap/device_controller.ts';
import { IpVendor } from '../stack/bootstrap/ip_vendor.ts';
import { drawSessionKeys, openProvisioned } from '../systems/replication/devices.ts';
import type { RequestResult } from '../systems/replication/request.ts';
import {
  SignedReplyClient,
  type ReplicaIdentity,
  type ReplyRejections,
} from '../systems/replication/signed_reply_client.ts';
import { openCertified, type CertifiedDevices } from '../systems/replication/signed_reply_devices.ts';
import { encodeJson, isRecord } from '../systems/replication/wire.ts';

// Five replicas tolerate f = 2, so an operation needs f + 1 = 3 matching replies.
const F = 2;
const REPLICAS: ReplicaIdentity[] = Array.from({ length: 2 * F + 1 }, (_, i) => ({
  name: `r${i}`,
  device: i + 1,
  session: i,
}));
const SESSIONS = REPLICAS.map((r) => r.session);
const REQUEST = { process: 0, id: 0, op: { f: 'increment' as const } };

/** Results as the test replicas report them: {results: [{process, id, output}]}. */
function resultsOf(payload: unknown): RequestResult[] {
  return isRecord(payload) && Array.isArray(payload.results) ? (payload.results as RequestResult[]) : [];
}

function content(output: number, id = REQUEST.id): Uint8Array {
  return encodeJson({ results: [{ process: REQUEST.process, id, output }] });
}

function totalRejected(r: ReplyRejections): number {
  return Object.values(r).reduce((sum, n) => sum + n, 0);
}

describe('signed reply client', () => {
  const keys = drawSessionKeys(SESSIONS);
  let certified: CertifiedDevices;

  beforeAll(async () => {
    certified = await openCertified('model', REPLICAS.map((r) => ({ device: r.device, sessions: SESSIONS })), keys);
  });

  afterAll(async () => {
    await Promise.all(certified.devices.map((d) => d.close()));
  });

  async function client(
    options: { required?: number; certificates?: ClientKeyCertificate[]; roots?: TrustRoots } = {},
  ): Promise<SignedReplyClient> {
    const certificates = options.certificates ?? certified.certificates;
    const c = await SignedReplyClient.create({
      roots: options.roots ?? certified.roots,
      replicas: REPLICAS.map((identity, i) => ({ identity, certificate: certificates[i]! })),
      quorum: F + 1,
      required: options.required,
      resultsOf,
    });
    c.expect(REQUEST);
    return c;
  }

  /** Build a signed reply by replica `index` that reports `output` for REQUEST. */
  async function reply(index: number, output: number): Promise<Uint8Array> {
    return encodeSignedReply(await certified.devices[index]!.attestAndSign(index, content(output)));
  }

  it('completes with f+1 matching replies', async () => {
    const c = await client();
    expect(c.certificateFailures, 'every chain checks').toEqual([]);
    expect(await c.receive(await reply(0, 7)), 'one reply').toEqual([]);
    expect(await c.receive(await reply(1, 7)), 'two replies').toEqual([]);
    const decisions = await c.receive(await reply(2, 7));
    expect(decisions, 'three replies decide').toEqual([{ request: REQUEST, output: 7 }]);
    expect(c.pending, 'nothing pending').toBe(0);
    expect(totalRejected(c.rejected), 'no rejection').toBe(0);
    expect(await c.receive(await reply(3, 7)), 'a late reply').toEqual([]);
    expect(c.rejected.stale, 'late reply counted stale').toBe(1);
  });

  it('rejects every single flipped bit', async () => {
    const c = await client();
    const genuine = await reply(0, 7);
    const { reply: parsed } = decodeSignedReply(genuine);
    const attestedStart = 10;
    const signatureStart = attestedStart + parsed.attested.length;
    // The header's device field must equal the signer for kind 'attested', so a flip there fails decoding.
    const deviceField = [attestedStart + 36, attestedStart + 40];

    for (let i = 0; i < genuine.length; i++) {
      const flipped = genuine.slice();
      flipped[i]! ^= 0x01;
      const before = { ...c.rejected };
      expect(await c.receive(flipped), `byte ${i} flipped is not counted`).toEqual([]);
      expect(totalRejected(c.rejected) - totalRejected(before), `byte ${i} flipped is rejected once`).toBe(1);
      const signed = i >= signatureStart || (i >= attestedStart && (i < deviceField[0]! || i >= deviceField[1]!));
      if (signed) {
        expect(c.rejected['bad-signature'] - before['bad-signature'], `byte ${i}: bad signature`).toBe(1);
      }
    }
    expect(c.rejected['bad-signature'], 'attested bytes and signature').toBeGreaterThan(parsed.attested.length);

    // The forgeries did not mark the genuine message as seen.
    await c.receive(genuine);
    expect(c.rejected.replayed, 'genuine reply is no replay').toBe(0);
  });

  it('rejects replies signed by uncertified keys', async () => {
    const c = await client();
    // Same device id and session key as r1, but not bootstrapped: its client key has no certificate.
    const impostor = await openProvisioned('model', REPLICAS[1]!.device, [REPLICAS[1]!.session], keys);
    const stranger = await openProvisioned('model', 9, [REPLICAS[2]!.session], keys);
    try {
      await c.receive(await reply(0, 5));
      const asR1 = encodeSignedReply(await impostor.attestAndSign(REPLICAS[1]!.session, content(5)));
      const asStranger = encodeSignedReply(await stranger.attestAndSign(REPLICAS[2]!.session, content(5)));
      expect(await c.receive(asR1), 'impostor of r1').toEqual([]);
      expect(await c.receive(asStranger), 'unknown device').toEqual([]);
      expect(c.rejected['bad-signature'], 'impostor fails the signature').toBe(1);
      expect(c.rejected['unknown-signer'], 'stranger has no certificate').toBe(1);
      expect(c.pending, 'operation still pending').toBe(1);
    } finally {
      await impostor.close();
      await stranger.close();
    }
  });

  it('rejects wrongly signed certificates', async () => {
    const attacker = await keygenAsync();
    const genuine = certified.certificates[1]!;
    const otherVendor = await IpVendor.create(new TextEncoder().encode('another controller'));
    const foreignHardware = await DeviceHardware.manufacture();
    otherVendor.registerDevice(foreignHardware.publicKey, REPLICAS[1]!.device);
    const { signature: _client, ...clientBody } = genuine;
    const { signature: _controller, ...controllerBody } = genuine.controller;

    const cases: [string, ClientKeyCertificate, ClientKeyChainFailure][] = [
      ['client key signed by the attacker', await signClientKey(clientBody, attacker.secretKey), 'bad-client-key-signature'],
      [
        'controller certificate signed by the attacker',
        { ...genuine, controller: await signCertificate(controllerBody, attacker.secretKey) },
        'bad-certificate-signature',
      ],
      [
        'hardware key that is no trust root',
        { ...genuine, controller: { ...genuine.controller, hardwareKey: foreignHardware.publicKey } },
        'unknown-device-key',
      ],
      ['certificate of another device', certified.certificates[2]!, 'wrong-device-id'],
    ];
    for (const [name, certificate, reason] of cases) {
      const certificates = certified.certificates.map((cert, i) => (i === 1 ? certificate : cert));
      const c = await client({ certificates });
      expect(c.certificateFailures.map((f) => f.reason), `${name}: chain fails`).toEqual([reason]);
      expect(() => c.expectAllCertified(), `${name}: caller can insist`).toThrow(/replica r1 has no valid/);
      await c.receive(await reply(0, 3));
      await c.receive(await reply(2, 3));
      expect(await c.receive(await reply(1, 3)), `${name}: r1 does not count`).toEqual([]);
      expect(c.rejected['unknown-signer'], `${name}: r1 is unknown`).toBe(1);
    }

    const c = await client({ roots: otherVendor.trustRoots() });
    expect(c.certificateFailures.length, 'roots of another vendor trust no replica').toBe(REPLICAS.length);
  });

  it('rejects a replayed reply', async () => {
    const c = await client();
    const first = await reply(0, 4);
    await c.receive(first);
    expect(await c.receive(first), 'replay').toEqual([]);
    await c.receive(await reply(1, 4));
    expect(c.rejected.replayed, 'replay counted').toBe(1);
    expect(c.pending, 'two distinct replicas are not three').toBe(1);

    // The same attested message, signed again by another replica after its CHECK, is a replay too.
    const attested = decodeSignedReply(first).reply.attested;
    const again = encodeSignedReply(await certified.devices[3]!.checkAndSign(attested));
    expect(await c.receive(again), 'checked copy').toEqual([]);
    expect(c.rejected.replayed, 'checked copy counted').toBe(2);
  });

  it('needs f+1 matching replies', async () => {
    const c = await client();
    await c.receive(await reply(0, 1));
    await c.receive(await reply(1, 1));
    expect(await c.receive(await reply(2, 2)), 'f matching and one different').toEqual([]);
    expect(c.pending, 'still pending').toBe(1);
    expect(await c.receive(await reply(3, 1)), 'f+1 matching').toEqual([{ request: REQUEST, output: 1 }]);
    expect(c.conflicting.get(REPLICAS[2]!.device), 'r2 disagreed').toBe(1);
  });

  it('counts one result per replica', async () => {
    const c = await client();
    await c.receive(await reply(0, 6));
    expect(await c.receive(await reply(0, 8)), 'second result of r0').toEqual([]);
    expect(c.rejected.duplicate, 'duplicate counted').toBe(1);
    await c.receive(await reply(1, 8));
    expect(await c.receive(await reply(2, 8)), 'r0 votes once, for 6').toEqual([]);
  });

  it('waits for the required replica', async () => {
    const c = await client({ required: REPLICAS[4]!.device });
    for (const i of [0, 1, 2, 3]) expect(await c.receive(await reply(i, 2)), `r${i}`).toEqual([]);
    expect(await c.receive(await reply(4, 2)), 'required r4').toEqual([{ request: REQUEST, output: 2 }]);
  });

  it('counts a checked reply for its author', async () => {
    const c = await client();
    const fromR0 = await certified.devices[0]!.attestAndSign(0, content(9));
    const checkedByR4 = await certified.devices[4]!.checkAndSign(fromR0.attested);
    expect(checkedByR4.kind, 'kind').toBe('checked');
    expect(checkedByR4.signer, 'signer').toBe(REPLICAS[4]!.device);
    await c.receive(encodeSignedReply(checkedByR4));
    await c.receive(await reply(1, 9));
    expect(await c.receive(await reply(2, 9)), 'r0 through r4, r1, r2').toEqual([{ request: REQUEST, output: 9 }]);
    expect(await c.receive(await reply(4, 9)), 'r4 itself is late').toEqual([]);
  });

  it('rejects malformed replies by fault', async () => {
    const genuine = await reply(0, 1);
    const mutate = (change: (b: Uint8Array) => Uint8Array): Uint8Array => change(genuine.slice());
    const cases: [string, Uint8Array, SignedReplyFault][] = [
      ['truncated', genuine.slice(0, 100), 'too-short'],
      ['version 2', mutate((b) => ((b[0] = 2), b)), 'unknown-version'],
      ['kind 9', mutate((b) => ((b[1] = 9), b)), 'unknown-kind'],
      ['one byte appended', new Uint8Array([...genuine, 0]), 'length-mismatch'],
      ['length field changed', mutate((b) => ((b[9]! ^= 4), b)), 'length-mismatch'],
      ['signer changed', mutate((b) => ((b[5]! ^= 2), b)), 'signer-mismatch'],
    ];
    const c = await client();
    for (const [name, bytes, fault] of cases) {
      let error: unknown;
      try {
        decodeSignedReply(bytes);
      } catch (err) {
        error = err;
      }
      expect(error, `${name}: error type`).toBeInstanceOf(SignedReplyFormatError);
      expect((error as SignedReplyFormatError).fault, `${name}: fault`).toBe(fault);
      await c.receive(bytes);
    }
    expect(c.rejected.malformed, 'client counts each').toBe(cases.length);
  });

  it('round-trips a certificate', () => {
    const certificate = certified.certificates[0]!;
    const bytes = encodeClientKeyCertificate(certificate);
    expect(bytes.length, 'size').toBe(260);
    expect(decodeClientKeyCertificate(bytes), 'round trip').toEqual(certificate);
    expect(() => decodeClientKeyCertificate(bytes.slice(1)), 'short').toThrow(/259 bytes is invalid; it must have 260/);
  });
});

describe.each(['model', 'rtl'] as Backend[])('device signing on the %s backend', (backend) => {
  const session = 2;
  const keys = drawSessionKeys([session, 5]);
  let signer: Tnic;
  let other: Tnic;

  beforeAll(async () => {
    signer = await openProvisioned(backend, 1, [session], keys);
    other = await openProvisioned(backend, 2, [session, 5], keys);
  });

  afterAll(async () => {
    await signer.close();
    await other.close();
  });

  async function rejection(promise: Promise<unknown>): Promise<SignRejectReason | undefined> {
    try {
      await promise;
      return undefined;
    } catch (err) {
      expect(err, 'error type').toBeInstanceOf(SignRejectedError);
      return (err as SignRejectedError).reason;
    }
  }

  it('signs its own and checked attestations', async () => {
    const own = await signer.attestAndSign(session, content(1));
    expect(own.kind, 'kind').toBe('attested');
    expect(decodeAttested(own.attested).device, 'attested by the signer').toBe(1);
    const fromOther = await other.localSend(session, content(2));
    const checked = await signer.checkAndSign(fromOther);
    expect(checked.attested, 'signed bytes').toEqual(fromOther);
  });

  it('rejects signing foreign bytes', async () => {
    const genuine = decodeAttested(await other.localSend(session, content(3)));
    const forged = encodeAttested({ ...genuine, msg: content(4) });
    expect(await rejection(signer.checkAndSign(forged)), 'changed content').toBe('bad-tag');
    const madeUp = encodeAttested({ ...genuine, alpha: new Uint8Array(32).fill(7) });
    expect(await rejection(signer.checkAndSign(madeUp)), 'made-up tag').toBe('bad-tag');
    const noKey = await other.localSend(5, content(5));
    expect(await rejection(signer.checkAndSign(noKey)), 'session without key').toBe('unknown-session');
    expect(await rejection(signer.checkAndSign(new Uint8Array(20))), 'too short').toBe('malformed');
  });

  it('rejects signing before lock', async () => {
    const open = await Tnic.open(backend, 3);
    try {
      await open.provision(session, keys.get(session)!);
      const wire = await other.localSend(session, content(6));
      expect(await rejection(open.attestAndSign(session, content(6))), 'attest').toBe('not-locked');
      expect(await rejection(open.checkAndSign(wire)), 'check').toBe('not-locked');
    } finally {
      await open.close();
    }
  });
});

describe('client private key', () => {
  /** Extract every 32-byte array that `text` spells out the way util.inspect, JSON.stringify or hex would. */
  function candidates(text: string): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const m of text.matchAll(/Uint8Array\((?:32|64)\) \[([^\]]*)\]/g)) {
      const numbers = [...m[1]!.matchAll(/(?:^|[\s,])(\d{1,3})(?=,|\s|$)/g)].map((n) => Number(n[1]));
      for (let i = 0; i + 32 <= numbers.length; i += 32) out.push(new Uint8Array(numbers.slice(i, i + 32)));
    }
    for (const m of text.matchAll(/\{(?:"\d+":\d{1,3},){31,63}"\d+":\d{1,3}\}/g)) {
      const numbers = Object.values(JSON.parse(m[0]) as Record<string, number>);
      for (let i = 0; i + 32 <= numbers.length; i += 32) out.push(new Uint8Array(numbers.slice(i, i + 32)));
    }
    for (const m of text.matchAll(/[0-9a-f]{64}/g)) out.push(new Uint8Array(Buffer.from(m[0], 'hex')));
    return out;
  }

  /** Return true if some spelled-out 32-byte array in `value` is the secret key of `publicKey`. */
  async function revealsSecret(value: unknown, publicKey: Uint8Array): Promise<boolean> {
    const texts = [
      inspect(value, { showHidden: true, depth: Infinity, maxArrayLength: Infinity, maxStringLength: Infinity }),
      JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '',
    ];
    const target = Buffer.from(publicKey).toString('hex');
    for (const text of texts) {
      for (const candidate of candidates(text)) {
        const derived = Buffer.from(await getPublicKeyAsync(candidate)).toString('hex');
        if (derived === target) return true;
      }
    }
    return false;
  }

  it('finds a leaked key', async () => {
    const { secretKey, publicKey } = await keygenAsync();
    expect(await revealsSecret({ leaked: secretKey }, publicKey), 'as an array').toBe(true);
    expect(await revealsSecret({ leaked: Buffer.from(secretKey).toString('hex') }, publicKey), 'as hex').toBe(true);
    expect(await revealsSecret({ other: publicKey }, publicKey), 'public key only').toBe(false);
  });

  it('stays out of device and API objects', async () => {
    const keys = drawSessionKeys([0]);
    const tnic = await openProvisioned('model', 4, [0], keys);
    try {
      const signed = await tnic.attestAndSign(0, content(1));
      const clientKey = tnic.clientKey;
      expect(await revealsSecret(tnic, clientKey), 'Tnic').toBe(false);
      expect(await revealsSecret(tnic.device, clientKey), 'TnicDevice').toBe(false);
      expect(await revealsSecret(signed, clientKey), 'signed reply').toBe(false);
      expect(Object.keys(tnic.device), 'device fields').toEqual(['deviceId', 'backend', 'kernel']);
    } finally {
      await tnic.close();
    }
  });

  it('stays out of a bootstrap report', async () => {
    const certified = await openCertified('model', [{ device: 1, sessions: [0] }], drawSessionKeys([0]));
    try {
      const [tnic] = certified.devices;
      const certificate = certified.certificates[0]!;
      expect(certificate.clientKey, 'certificate names C_pub').toEqual(tnic!.clientKey);
      expect(await revealsSecret(certified, tnic!.clientKey), 'devices, certificates, roots').toBe(false);
    } finally {
      await Promise.all(certified.devices.map((d) => d.close()));
    }
  });
});

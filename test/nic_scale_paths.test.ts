// The allocation-free paths the NIC simulator takes at scale, checked against
// the general ones they replace. Frame checks and field reads are compared with
// decodeRoce, HMAC states kept side by side with node:crypto, and
// KernelTimeline.scheduleChunks with schedule. The attestation unit is run past
// its first session slots.

import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { AttestationUnit } from '../sim/nic/attestation_unit.ts';
import { HMAC_KEY_STATE_WORDS, hmacSha256Into, loadHmacKeyState } from '../sim/nic/hmac_sha256.ts';
import { KernelTimeline, type Chunk } from '../sim/nic/kernel_timing.ts';
import { NicNetwork, type MessageRecord } from '../sim/nic/network.ts';
import { getProfile, loadProfiles } from '../sim/nic/profiles.ts';
import {
  OPCODE,
  checkRoceFrame,
  decodeRoce,
  encodeRoce,
  readRoceFields,
  roceDestQp,
  type RoceFields,
  type RocePacket,
} from '../sim/nic/roce_codec.ts';
import { Prng } from '../sim/prng.ts';
import { testSeed } from './seed.ts';

const PROFILES = loadProfiles();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Build a random valid packet of an opcode the simulator sends, or of an opcode with immediate data. */
function randomPacket(prng: Prng): RocePacket {
  const opcode = prng.pick([
    OPCODE.RDMA_WRITE_FIRST,
    OPCODE.RDMA_WRITE_MIDDLE,
    OPCODE.RDMA_WRITE_LAST,
    OPCODE.RDMA_WRITE_ONLY,
    OPCODE.ACKNOWLEDGE,
    OPCODE.SEND_ONLY_WITH_IMMEDIATE,
  ]);
  const hasReth = opcode === OPCODE.RDMA_WRITE_FIRST || opcode === OPCODE.RDMA_WRITE_ONLY;
  const packet: RocePacket = {
    ethernet: { dst: prng.bytes(6), src: prng.bytes(6) },
    ipv4: { src: prng.nextU32(), dst: prng.nextU32(), id: prng.int(0, 0xffff), ttl: prng.int(0, 255), dscp: prng.int(0, 63), ecn: prng.int(0, 3) },
    udpSrcPort: prng.int(0, 0xffff),
    bth: {
      opcode,
      solicited: prng.int(0, 1) === 1,
      migReq: prng.int(0, 1) === 1,
      pKey: prng.int(0, 0xffff),
      fecn: prng.int(0, 1) === 1,
      becn: prng.int(0, 1) === 1,
      destQp: prng.int(0, 0xffffff),
      ackReq: prng.int(0, 1) === 1,
      psn: prng.int(0, 0xffffff),
    },
    payload: opcode === OPCODE.ACKNOWLEDGE ? new Uint8Array(0) : prng.bytes(prng.int(0, 300)),
  };
  if (hasReth) packet.reth = { va: BigInt(prng.nextU32()) * 65536n, rkey: prng.nextU32(), dmaLength: prng.nextU32() };
  if (opcode === OPCODE.ACKNOWLEDGE) packet.aeth = { syndrome: prng.int(0, 255), msn: prng.int(0, 0xffffff) };
  if (opcode === OPCODE.SEND_ONLY_WITH_IMMEDIATE) packet.immediate = prng.nextU32();
  return packet;
}

describe('checkRoceFrame and readRoceFields', () => {
  it('agree with decodeRoce on valid and damaged frames', () => {
    const seed = testSeed('nic scale frame checks');
    const prng = new Prng(seed);
    const fields: RoceFields = { frame: new Uint8Array(0), opcode: 0, psn: 0, ackReq: false, hasReth: false, syndrome: -1, payloadStart: 0, payloadEnd: 0 };
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const sent = randomPacket(prng);
      const frame = encodeRoce(sent).slice();
      // Odd-numbered frames get up to three flipped bits, and every seventh frame is cut short.
      if (i % 2 === 1) {
        const damage = prng.int(0, 3);
        for (let j = 0; j < damage; j++) {
          const at = prng.int(0, frame.length - 1);
          frame[at] = frame[at]! ^ (1 << prng.int(0, 7));
        }
      }
      const input = i % 7 === 3 ? frame.subarray(0, prng.int(0, frame.length)) : frame;
      const before = hex(input);
      const decoded = decodeRoce(input);
      const reason = checkRoceFrame(input);
      const where = `frame ${i} (${hex(input)})`;
      expect(hex(input), `${where}: checks leave the bytes as they were`).toBe(before);
      if (i % 2 === 0 && input === frame) {
        // An undamaged frame decodes to the packet that was encoded, with the fields the ICRC masks intact.
        expect(decoded.ok, `${where}: undamaged frame accepted`).toBe(true);
        const p = decoded.ok ? decoded.packet : undefined;
        expect(p?.ipv4, `${where}: IPv4 fields`).toEqual(sent.ipv4);
        expect(p?.bth, `${where}: BTH fields`).toEqual(sent.bth);
      }
      if (!decoded.ok) {
        rejected++;
        expect(reason, `${where}: reason`).toBe(decoded.reason);
        continue;
      }
      expect(reason, `${where}: valid frame`).toBeUndefined();
      const p = decoded.packet;
      readRoceFields(input, fields);
      expect(roceDestQp(input), `${where}: destination QP`).toBe(p.bth.destQp);
      expect(fields.opcode, `${where}: opcode`).toBe(p.bth.opcode);
      expect(fields.psn, `${where}: PSN`).toBe(p.bth.psn);
      expect(fields.ackReq, `${where}: AckReq`).toBe(p.bth.ackReq);
      expect(fields.hasReth, `${where}: RETH`).toBe(p.reth !== undefined);
      expect(fields.syndrome, `${where}: AETH syndrome`).toBe(p.aeth === undefined ? -1 : p.aeth.syndrome);
      expect(hex(input.subarray(fields.payloadStart, fields.payloadEnd)), `${where}: payload`).toBe(hex(p.payload));
    }
    expect(rejected, 'some damaged frames were rejected').toBeGreaterThan(100);
  });
});

describe('HMAC-SHA256 states side by side', () => {
  it('matches node:crypto for keys at every slot of one array', () => {
    const seed = testSeed('nic scale hmac slots');
    const prng = new Prng(seed);
    const keys = Array.from({ length: 9 }, () => prng.bytes(prng.int(0, 100)));
    const states = new Int32Array(keys.length * HMAC_KEY_STATE_WORDS);
    keys.forEach((key, slot) => loadHmacKeyState(key, states, slot * HMAC_KEY_STATE_WORDS));
    const tag = new Uint8Array(32);
    for (let i = 0; i < 200; i++) {
      const slot = prng.int(0, keys.length - 1);
      const data = prng.bytes(prng.int(0, 300));
      const start = prng.int(0, data.length);
      const end = prng.int(start, data.length);
      hmacSha256Into(states, slot * HMAC_KEY_STATE_WORDS, data, start, end, tag, 0);
      const expected = createHmac('sha256', keys[slot]!).update(data.subarray(start, end)).digest('hex');
      expect(hex(tag), `slot ${slot}, data [${start}, ${end}) of ${data.length} B`).toBe(expected);
    }
  });
});

describe('attestation unit with many sessions', () => {
  it('keeps keys and counters when its per-session arrays grow', () => {
    const ours = getProfile(PROFILES, 'tnic');
    const sender = new AttestationUnit(ours.kernel, 1);
    const receiver = new AttestationUnit(ours.kernel, 2);
    const prng = new Prng(5);
    const sessions = Array.from({ length: 40 }, (_, i) => 1000 + 7 * i);
    const attested: Uint8Array[][] = sessions.map(() => []);
    // Keys are loaded while earlier sessions already have counters, so growing must carry them over.
    sessions.forEach((session, i) => {
      const key = prng.bytes(32);
      sender.loadKey(session, key);
      receiver.loadKey(session, key);
      for (let j = 0; j <= i; j++) attested[j]!.push(sender.attest(sessions[j]!, Uint8Array.of(i, j)));
    });
    sessions.forEach((session, i) => {
      for (const [k, message] of attested[i]!.entries()) {
        expect(receiver.verifyStatus(session, message), `session ${session}, message ${k}`).toBe('ok');
      }
      expect(receiver.verifyStatus(session, attested[i]![0]!), `session ${session}, first message again`).toBe('replayed');
    });
  });

  it('rejects a tag made with the key of another session', () => {
    const ours = getProfile(PROFILES, 'tnic');
    const sender = new AttestationUnit(ours.kernel, 1);
    const receiver = new AttestationUnit(ours.kernel, 2);
    const prng = new Prng(6);
    for (let session = 0; session < 20; session++) {
      const key = prng.bytes(32);
      sender.loadKey(session, key);
      receiver.loadKey(session, session === 11 ? prng.bytes(32) : key);
    }
    expect(receiver.verifyStatus(10, sender.attest(10, Uint8Array.of(1)))).toBe('ok');
    expect(receiver.verifyStatus(11, sender.attest(11, Uint8Array.of(1)))).toBe('bad-tag');
  });
});

describe('KernelTimeline.scheduleChunks', () => {
  it.each(['tnic', 'tnic-prototype', 'ssl-server'])('matches schedule for profile %s', (name) => {
    const kernel = getProfile(PROFILES, name).kernel;
    const viaObjects = new KernelTimeline(kernel);
    const viaArrays = new KernelTimeline(kernel);
    const prng = new Prng(9);
    let issued = 0;
    for (let i = 0; i < 300; i++) {
      issued += prng.int(0, 2000);
      const hashed = prng.int(1, 20000);
      const count = prng.int(1, 6);
      const chunks: Chunk[] = [];
      let arrival = issued;
      for (let c = 0; c < count; c++) {
        arrival += prng.int(0, 500);
        chunks.push({ arrival, hashedEnd: c === count - 1 ? hashed : Math.floor((hashed * (c + 1)) / count) });
      }
      const expected = viaObjects.schedule(issued, hashed, chunks);
      const chunkDone: number[] = [];
      const arrivals = chunks.map((c) => c.arrival);
      const hashedEnds = chunks.map((c) => c.hashedEnd);
      const final = viaArrays.scheduleChunks(issued, hashed, arrivals, hashedEnds, count, chunkDone);
      expect(final, `message ${i}: final`).toBe(expected.final);
      expect(chunkDone, `message ${i}: chunk completion times`).toEqual(expected.chunkDone);
    }
  });

  it('rejects chunks that do not end at the hashed length', () => {
    const timeline = new KernelTimeline(getProfile(PROFILES, 'tnic').kernel);
    expect(() => timeline.scheduleChunks(0, 100, [0], [99], 1, [])).toThrow(/chunks must end at the 100 hashed bytes/);
    expect(() => timeline.scheduleChunks(0, 100, [], [], 0, [])).toThrow(/chunks must end at the 100 hashed bytes/);
  });
});

describe('callbacks that run the event queue', () => {
  it('acknowledge every packet when onComplete drains the queue', () => {
    // The first completion runs the queue to the end from inside the responder's delivery.
    let nested = false;
    const net: NicNetwork = new NicNetwork({
      profile: getProfile(PROFILES, 'tnic'),
      seed: 1,
      nodes: 2,
      path: 'attest-verify',
      onComplete: () => {
        if (nested) return;
        nested = true;
        net.queue.run();
      },
    });
    const conn = net.connect(0, 1);
    net.post(conn, new Uint8Array(100));
    net.post(conn, new Uint8Array(100));
    net.queue.run();
    expect(conn.delivered, 'messages delivered').toBe(2);
    expect(conn.responder.counters.acksSent, 'ACKs sent').toBe(2);
    expect(conn.requester.counters.acksReceived, 'ACKs received').toBe(2);
    expect(conn.requester.counters.retransmitted, 'packets sent again').toBe(0);
  });

  it('keeps a message assembling while the previous one completes', () => {
    // The first completion runs events until the next message on the same connection is half
    // assembled, and returns. That message must still complete.
    let nested = false;
    let halfAssembled = false;
    const net: NicNetwork = new NicNetwork({
      profile: getProfile(PROFILES, 'tnic'),
      seed: 2,
      nodes: 2,
      path: 'attest-verify',
      onComplete: () => {
        if (nested) return;
        nested = true;
        while (!conn.assembling && net.queue.pending > 0) net.queue.run(Infinity, 1);
        halfAssembled = conn.assembling;
      },
    });
    const conn = net.connect(0, 1);
    const first = net.post(conn, new Uint8Array(9000).fill(1));
    const second = net.post(conn, new Uint8Array(9000).fill(2));
    net.queue.run();
    expect(halfAssembled, 'the callback left the second message half assembled').toBe(true);
    expect(conn.assembling, 'a message still assembling at the end').toBe(false);
    expect(first.verify, 'first message').toBe('ok');
    expect(second.verify, 'second message').toBe('ok');
    expect(conn.delivered, 'messages delivered').toBe(2);
  });

  it('assembles multi-packet messages across nested runs', () => {
    const seed = testSeed('nic nested runs');
    const prng = new Prng(seed);
    const records: MessageRecord[] = [];
    const net: NicNetwork = new NicNetwork({
      profile: getProfile(PROFILES, 'tnic'),
      seed,
      nodes: 4,
      path: 'attest-verify',
      // Each completion runs up to 50 events of the next 20 us from inside the delivery.
      onComplete: () => net.queue.run(net.queue.now + 20_000, 50),
    });
    const conns = [];
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) if (a !== b) conns.push(net.connect(a, b));
    for (let i = 0; i < 200; i++) {
      const conn = prng.pick(conns);
      const msg = prng.bytes(prng.int(0, 9000));
      net.queue.at(prng.int(0, 20_000), () => records.push(net.post(conn, msg)));
    }
    net.queue.run();
    expect(records.length, `seed ${seed}: messages posted`).toBe(200);
    expect(records.filter((r) => r.completedAt === undefined).length, `seed ${seed}: messages never completed`).toBe(0);
    expect(records.filter((r) => r.verify !== 'ok').length, `seed ${seed}: messages failing Verify`).toBe(0);
  });
});

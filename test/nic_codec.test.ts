import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CRC32_PRESET, crc32, crc32Update } from '../sim/nic/crc32.ts';
import { NicNetwork } from '../sim/nic/network.ts';
import { PcapWriter } from '../sim/nic/pcap.ts';
import { getProfile, loadProfiles } from '../sim/nic/profiles.ts';
import {
  AETH_ACK,
  BTH_BYTES,
  ETH_HEADER_BYTES,
  IPV4_HEADER_BYTES,
  OPCODE,
  UDP_HEADER_BYTES,
  decodeRoce,
  encodeRoce,
  type RocePacket,
} from '../sim/nic/roce_codec.ts';
import { Prng } from '../sim/prng.ts';
import { testSeed } from './seed.ts';

const BTH_AT = ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES;

function packet(opcode: number, payload: Uint8Array, extra: Partial<RocePacket> = {}): RocePacket {
  return {
    ethernet: { dst: Uint8Array.of(2, 0, 0, 0, 0, 2), src: Uint8Array.of(2, 0, 0, 0, 0, 1) },
    ipv4: { src: 0x0a010001, dst: 0x0a010002, id: 7, ttl: 64, dscp: 26, ecn: 2 },
    udpSrcPort: 0xc011,
    bth: {
      opcode,
      solicited: false,
      migReq: true,
      pKey: 0xffff,
      fecn: false,
      becn: false,
      destQp: 0x000123,
      ackReq: true,
      psn: 0xfffffe,
    },
    payload,
    ...extra,
  };
}

const RETH = { va: 0x1122334455667788n, rkey: 0xdeadbeef, dmaLength: 4096 };

/** Every supported opcode with the extended headers it needs. */
const CASES: Array<[string, RocePacket]> = [
  ['SEND_FIRST', packet(OPCODE.SEND_FIRST, new Uint8Array(256).fill(1))],
  ['SEND_MIDDLE', packet(OPCODE.SEND_MIDDLE, new Uint8Array(256).fill(2))],
  ['SEND_LAST', packet(OPCODE.SEND_LAST, new Uint8Array(3).fill(3))],
  ['SEND_LAST_WITH_IMMEDIATE', packet(OPCODE.SEND_LAST_WITH_IMMEDIATE, Uint8Array.of(9), { immediate: 0xcafe })],
  ['SEND_ONLY', packet(OPCODE.SEND_ONLY, new Uint8Array(0))],
  ['SEND_ONLY_WITH_IMMEDIATE', packet(OPCODE.SEND_ONLY_WITH_IMMEDIATE, Uint8Array.of(1, 2), { immediate: 1 })],
  ['RDMA_WRITE_FIRST', packet(OPCODE.RDMA_WRITE_FIRST, new Uint8Array(4096).fill(5), { reth: RETH })],
  ['RDMA_WRITE_MIDDLE', packet(OPCODE.RDMA_WRITE_MIDDLE, new Uint8Array(4096).fill(6))],
  ['RDMA_WRITE_LAST', packet(OPCODE.RDMA_WRITE_LAST, new Uint8Array(1).fill(7))],
  [
    'RDMA_WRITE_LAST_WITH_IMMEDIATE',
    packet(OPCODE.RDMA_WRITE_LAST_WITH_IMMEDIATE, new Uint8Array(5), { immediate: 0xffffffff }),
  ],
  ['RDMA_WRITE_ONLY', packet(OPCODE.RDMA_WRITE_ONLY, new Uint8Array(130).fill(8), { reth: RETH })],
  [
    'RDMA_WRITE_ONLY_WITH_IMMEDIATE',
    packet(OPCODE.RDMA_WRITE_ONLY_WITH_IMMEDIATE, new Uint8Array(7), { reth: RETH, immediate: 5 }),
  ],
  ['ACKNOWLEDGE', packet(OPCODE.ACKNOWLEDGE, new Uint8Array(0), { aeth: { syndrome: AETH_ACK | 0x1f, msn: 42 } })],
];

/** Rewrite the ICRC after a test changed header bytes, so that only the intended check fails. */
function refreshIcrc(frame: Uint8Array): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const ipBytes = view.getUint16(ETH_HEADER_BYTES + 2);
  const end = ETH_HEADER_BYTES + ipBytes - 4;
  const masked = frame.slice(ETH_HEADER_BYTES, BTH_AT + BTH_BYTES);
  for (const i of [1, 8, 10, 11, 26, 27, 32]) masked[i] = 0xff;
  let r = crc32Update(CRC32_PRESET, new Uint8Array(8).fill(0xff));
  r = crc32Update(r, masked);
  r = crc32Update(r, frame, BTH_AT + BTH_BYTES, end);
  view.setUint32(end, ~r >>> 0, true);
  return frame;
}

/** Rewrite the IPv4 header checksum after a test changed the header. */
function refreshIpChecksum(frame: Uint8Array): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  view.setUint16(ETH_HEADER_BYTES + 10, 0);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += view.getUint16(ETH_HEADER_BYTES + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  view.setUint16(ETH_HEADER_BYTES + 10, ~sum & 0xffff);
  return frame;
}

function reasonOf(frame: Uint8Array): string {
  const r = decodeRoce(frame);
  return r.ok ? 'accepted' : r.reason;
}

describe('CRC-32', () => {
  it('matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('equals the byte-at-a-time loop at every length and offset', () => {
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    const bytes = new Prng(3).bytes(100);
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= bytes.length; end++) {
        let reference = 0x12345678;
        for (let i = start; i < end; i++) reference = table[(reference ^ bytes[i]!) & 0xff]! ^ (reference >>> 8);
        const got = crc32Update(0x12345678, bytes, start, end);
        if (got !== reference >>> 0) expect.fail(`bytes [${start}, ${end}): 0x${got.toString(16)} vs 0x${(reference >>> 0).toString(16)}`);
      }
    }
  });

  it('gives the RoCE v2 ICRC seed after the masked LRH', () => {
    // The register after 8 bytes of 0xFF, which RoCE v2 implementations start from.
    expect(crc32Update(CRC32_PRESET, new Uint8Array(8).fill(0xff))).toBe(0xdebb20e3);
  });
});

describe('RoCE v2 codec round trip', () => {
  it.each(CASES)('%s', (_name, p) => {
    const frame = encodeRoce(p);
    const decoded = decodeRoce(frame);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.packet).toEqual(p);
  });

  it('pads short frames to 60 bytes and still decodes them', () => {
    const p = packet(OPCODE.SEND_ONLY, new Uint8Array(0));
    const frame = encodeRoce(p);
    expect(frame.length).toBe(60);
    expect(decodeRoce(frame).ok).toBe(true);
  });

  it('rejects bad fields when encoding', () => {
    expect(() => encodeRoce(packet(0x0c, new Uint8Array(0)))).toThrow(/opcode 0x0c is not a supported RC opcode/);
    expect(() => encodeRoce(packet(OPCODE.RDMA_WRITE_ONLY, new Uint8Array(1)))).toThrow(/needs RETH/);
    const bigPsn = packet(OPCODE.SEND_ONLY, new Uint8Array(0));
    bigPsn.bth.psn = 1 << 24;
    expect(() => encodeRoce(bigPsn)).toThrow(/PSN 16777216 is not an unsigned 24-bit integer/);
  });
});

describe('RoCE v2 codec rejections', () => {
  const good = (): Uint8Array => encodeRoce(CASES[10]![1]);

  it('rejects a truncated frame', () => {
    expect(reasonOf(new Uint8Array(10))).toMatch(/shorter than the 14-byte Ethernet header/);
    expect(reasonOf(good().subarray(0, 30))).toMatch(/ends inside the IPv4 header/);
    expect(reasonOf(good().subarray(0, 100))).toMatch(/exceeds the 86 bytes after the Ethernet header/);
  });

  it('rejects a frame that is not IPv4', () => {
    const f = good();
    f[12] = 0x86;
    f[13] = 0xdd;
    expect(reasonOf(f)).toMatch(/ethertype 0x86dd is not IPv4/);
  });

  it('rejects a bad IPv4 checksum', () => {
    const f = good();
    f[ETH_HEADER_BYTES + 4]! ^= 1;
    expect(reasonOf(f)).toMatch(/IPv4 header checksum .* is invalid/);
  });

  it('rejects IPv4 options and fragments', () => {
    const options = good();
    options[ETH_HEADER_BYTES] = 0x46;
    expect(reasonOf(refreshIpChecksum(options))).toMatch(/IPv4 header of 24 bytes is not supported/);
    const fragment = good();
    fragment[ETH_HEADER_BYTES + 6] = 0x20;
    expect(reasonOf(refreshIpChecksum(fragment))).toMatch(/IPv4 fragment/);
  });

  it('rejects a UDP port other than 4791', () => {
    const f = good();
    f[ETH_HEADER_BYTES + IPV4_HEADER_BYTES + 3] = 0xb8;
    expect(reasonOf(f)).toMatch(/UDP destination port 4792 is not RoCE v2/);
  });

  it('rejects a wrong UDP length and checksum', () => {
    const length = good();
    length[ETH_HEADER_BYTES + IPV4_HEADER_BYTES + 5]! -= 4;
    expect(reasonOf(length)).toMatch(/UDP length .* does not match/);
    const checksum = good();
    checksum[ETH_HEADER_BYTES + IPV4_HEADER_BYTES + 7] = 1;
    expect(reasonOf(checksum)).toMatch(/UDP checksum 0x0001 is invalid/);
  });

  it('rejects an unsupported opcode and transport version', () => {
    const opcode = good();
    opcode[BTH_AT] = 0x0c;
    expect(reasonOf(opcode)).toMatch(/BTH opcode 0x0c is not a supported RC opcode/);
    const tver = good();
    tver[BTH_AT + 1]! |= 0x01;
    expect(reasonOf(refreshIcrc(tver))).toMatch(/transport header version 1 is not 0/);
  });

  it('rejects a payload on an ACK and a pad count beyond the payload', () => {
    // 8 bytes after the BTH: 4 are read as the AETH, 4 are left as a payload.
    const withPayload = encodeRoce(packet(OPCODE.SEND_ONLY, new Uint8Array(8)));
    withPayload[BTH_AT] = OPCODE.ACKNOWLEDGE;
    expect(reasonOf(refreshIcrc(withPayload))).toMatch(/ACKNOWLEDGE carries 4 payload bytes, expected none/);
    const pad = encodeRoce(packet(OPCODE.SEND_ONLY, new Uint8Array(0)));
    pad[BTH_AT + 1]! |= 0x30;
    expect(reasonOf(refreshIcrc(pad))).toMatch(/pad count 3 exceeds the 0-byte payload/);
  });

  it('rejects a bad ICRC', () => {
    const f = good();
    f[f.length - 10]! ^= 0x80;
    expect(reasonOf(f)).toMatch(/ICRC 0x[0-9a-f]{8} does not match the computed 0x[0-9a-f]{8}/);
  });

  it('rejects bytes after the IPv4 packet', () => {
    const f = good();
    const longer = new Uint8Array(f.length + 4);
    longer.set(f);
    expect(reasonOf(longer)).toMatch(/has 4 bytes after the IPv4 packet/);
  });

  it('rejects every bit flip outside the addresses and variant fields', () => {
    // Not covered: Ethernet addresses (no FCS in the frame), and BTH FECN, BECN and reserved bits,
    // which the ICRC masks and the decoder ignores.
    const frame = good();
    const variant = BTH_AT + 4;
    const accepted: number[] = [];
    for (let bit = 12 * 8; bit < frame.length * 8; bit++) {
      const byte = bit >> 3;
      if (byte === variant) continue;
      const f = frame.slice();
      f[byte]! ^= 1 << (bit & 7);
      if (decodeRoce(f).ok) accepted.push(bit);
    }
    expect(accepted).toEqual([]);
  });
});

describe('RoCE v2 codec fuzzing', () => {
  const seed = testSeed('nic codec fuzz');
  const runs = 2000;

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (bytes) => {
        const r = decodeRoce(bytes);
        return r.ok || (typeof r.reason === 'string' && r.reason.length > 0);
      }),
      { seed, numRuns: runs },
    );
  });

  it('never throws on mutated valid frames', () => {
    const frames = CASES.map(([, p]) => encodeRoce(p));
    fc.assert(
      fc.property(
        fc.nat(frames.length - 1),
        fc.array(fc.tuple(fc.nat(5000), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(5000),
        (which, edits, cut) => {
          const f = frames[which]!.slice(0, Math.max(1, frames[which]!.length - (cut % 8)));
          for (const [at, xor] of edits) f[at % f.length]! ^= xor;
          const r = decodeRoce(f);
          return r.ok || r.reason.length > 0;
        },
      ),
      { seed, numRuns: runs },
    );
  });

  it('round-trips random valid packets', () => {
    const opcodes = CASES.map(([, p]) => p);
    fc.assert(
      fc.property(
        fc.nat(opcodes.length - 1),
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 0, max: 0xffffff }),
        fc.integer({ min: 0, max: 0xffffff }),
        (which, payload, psn, qp) => {
          const template = opcodes[which]!;
          const p: RocePacket = {
            ...template,
            bth: { ...template.bth, psn, destQp: qp },
            payload: template.bth.opcode === OPCODE.ACKNOWLEDGE ? new Uint8Array(0) : payload,
          };
          const r = decodeRoce(encodeRoce(p));
          expect(r.ok).toBe(true);
          if (r.ok) expect(r.packet).toEqual(p);
        },
      ),
      { seed, numRuns: runs },
    );
  });
});

const tshark = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
const hasTshark = tshark.status === 0;
if (!hasTshark) console.log('skipping the tshark dissection test: tshark is not installed (apt-get install tshark)');

describe('pcap output', () => {
  it('writes a classic pcap header and one record per frame', () => {
    const pcap = new PcapWriter();
    pcap.add(1_500_000_123, new Uint8Array(60));
    const bytes = pcap.bytes();
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(0, true)).toBe(0xa1b23c4d);
    expect(view.getUint32(20, true)).toBe(1);
    expect(view.getUint32(24, true)).toBe(1);
    expect(view.getUint32(28, true)).toBe(500_000_123);
    expect(view.getUint32(32, true)).toBe(60);
    expect(bytes.length).toBe(24 + 16 + 60);
  });

  it.skipIf(!hasTshark)('dissects as RoCE in tshark', () => {
    const pcap = new PcapWriter();
    const profile = getProfile(loadProfiles(), 'tnic-prototype');
    const net = new NicNetwork({ profile, seed: 11, nodes: 2, path: 'attest-verify', pcap });
    const conn = net.connect(0, 1);
    const prng = new Prng(11);
    for (const size of [48, 5000, 9000]) net.post(conn, prng.bytes(size));
    net.run();

    const dir = mkdtempSync(join(tmpdir(), 'tnic-pcap-'));
    let out: string;
    try {
      const file = join(dir, 'sim.pcap');
      writeFileSync(file, pcap.bytes());
      out = execFileSync(
        'tshark',
        ['-r', file, '-T', 'fields', '-e', 'frame.protocols', '-e', 'udp.dstport', '-e', 'infiniband.bth.opcode'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const rows = out.trim().split('\n').map((line) => line.split('\t'));
    expect(rows.length).toBe(pcap.records);
    for (const [protocols, port, opcode] of rows) {
      expect(protocols).toMatch(/^eth:ethertype:ip:udp:infiniband/);
      expect(port).toBe('4791');
      expect(opcode).toMatch(/^\d+$/);
    }
    const opcodes = new Set(rows.map((r) => Number(r[2])));
    for (const op of [OPCODE.RDMA_WRITE_FIRST, OPCODE.RDMA_WRITE_LAST, OPCODE.RDMA_WRITE_ONLY, OPCODE.ACKNOWLEDGE]) {
      expect(opcodes.has(op), `opcode ${op} in the capture`).toBe(true);
    }
  });
});

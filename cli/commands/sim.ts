/**
 * `tnic sim`: run the NIC pipeline simulator for one device profile over a
 * list of message sizes and print, per size and path, the latency with its
 * breakdown and the sustained throughput. With --out it writes the same as
 * JSON and as a Markdown table, and with --pcap the traffic of the
 * attest-plus-verify runs as a pcap file.
 *
 * Next to the modelled Attest latency of the ssl-lib and ssl-server
 * baseline profiles it prints the Attest time measured on this machine.
 * The measured figures are HMAC-SHA256 in this process with node:crypto and
 * with @noble/hashes, and through a Unix socket to the ssl-server
 * baseline's server process. Modelled and measured figures stay in
 * separate columns.
 */

import { createHmac } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Command } from 'commander';

import { InputError, TnicError } from '../../sim/errors.ts';
import { MAX_INPUT_BYTES } from '../../sim/kernel_port.ts';
import { Prng, randomSeed } from '../../sim/prng.ts';
import { compareAnchors, type AnchorComparison } from '../../sim/nic/anchors.ts';
import { localAttestNs, measureSize, messageBytes, type SizeResult } from '../../sim/nic/experiments.ts';
import { PATH_KINDS, STAGES } from '../../sim/nic/network.ts';
import { PcapWriter } from '../../sim/nic/pcap.ts';
import { DEFAULT_PROFILES_FILE, getProfile, loadProfiles, type Profile } from '../../sim/nic/profiles.ts';
import { SslServerKernel } from '../../stack/baselines/ssl_server_kernel.ts';
import { checkOutputFile, parseIntOption, prepareOutputDir } from '../options.ts';

const MAX_SIZE = 1 << 24;

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('simulate TNIC nodes (DMA, attestation kernel, RoCE v2, link) and report latency and throughput')
    .requiredOption('--profile <name>', 'device profile, e.g. tnic-prototype, tnic, ssl-lib, ssl-server, sgx, amd-sev')
    .option('--sizes <list>', 'comma-separated message sizes in bytes', parseSizes, [128, 1024, 4096, 32768])
    .option('--out <dir>', 'directory for sim-<profile>.json and sim-<profile>.md (created if missing); without it only stdout')
    .option('--pcap <file>', 'write the attest-plus-verify traffic as a classic pcap file')
    .option('--seed <n>', 'PRNG seed (0..4294967295); random and printed when absent', parseIntOption('--seed', 0, 2 ** 32 - 1))
    .option('--profiles <file>', 'profile file (JSON)', DEFAULT_PROFILES_FILE)
    .option('--no-measured', 'skip measuring the CPU baselines on this machine (about 1 s plus 0.5 s per size)')
    .action(async (opts: SimOptions) => {
      const profiles = readProfiles(opts.profiles);
      const profile = getProfile(profiles, opts.profile);
      for (const size of opts.sizes) messageBytes(profile, size);
      // Outputs are checked before the simulation, which can take minutes, rather than after it.
      if (opts.out !== undefined) prepareOutputDir('--out', opts.out);
      if (opts.pcap !== undefined) checkOutputFile('--pcap', opts.pcap);
      const seed = opts.seed ?? randomSeed();
      const pcap = opts.pcap === undefined ? undefined : new PcapWriter();
      console.error(`sim: profile ${profile.name}, sizes ${opts.sizes.join(', ')}, seed ${seed}`);

      const results: SizeResult[] = [];
      for (const size of opts.sizes) {
        const started = performance.now();
        results.push(measureSize(profile, size, seed, pcap));
        console.error(`sim: size ${size} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
      const anchors = profile.name === 'tnic-prototype' ? compareAnchors(results) : [];
      const modelled = modelledBaselines(profiles, opts.sizes);
      let measured: MeasuredBaselines | undefined;
      if (opts.measured) {
        console.error('sim: measuring the CPU baselines on this machine (--no-measured skips this)');
        measured = await measureBaselines(opts.sizes, seed);
      }
      const table = [renderTable(profile, seed, results, anchors), '', renderBaselines(modelled, measured)].join('\n');
      console.log(table);

      if (opts.out !== undefined) {
        const base = join(opts.out, `sim-${profile.name}`);
        const baselines = { modelled, measured: measured ?? null };
        writeFileSync(`${base}.json`, JSON.stringify({ profile, seed, results, anchors, baselines }, null, 2) + '\n');
        writeFileSync(`${base}.md`, table + '\n');
        console.error(`sim: wrote ${base}.json and ${base}.md`);
      }
      if (pcap !== undefined && opts.pcap !== undefined) {
        writeFileSync(opts.pcap, pcap.bytes());
        console.error(`sim: wrote ${pcap.records} frames to ${opts.pcap}`);
      }
    });
}

interface SimOptions {
  profile: string;
  sizes: number[];
  out?: string;
  pcap?: string;
  seed?: number;
  profiles: string;
  measured: boolean;
}

/** Load the --profiles file, naming the option and the default file when it does not exist. */
function readProfiles(file: string): Map<string, Profile> {
  if (!existsSync(file)) {
    throw new InputError(`--profiles ${file} not found; give a profile file, or leave the option out for ${DEFAULT_PROFILES_FILE}`);
  }
  if (statSync(file).isDirectory()) {
    throw new InputError(`--profiles ${file} is a folder; give a profile file such as ${DEFAULT_PROFILES_FILE}`);
  }
  return loadProfiles(file);
}

function parseSizes(value: string): number[] {
  const sizes = value.split(',').map((s) => s.trim());
  return sizes.map((s) => {
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < 1 || n > MAX_SIZE) {
      throw new InputError(`--sizes entry '${s}' is not an integer in 1..${MAX_SIZE}; give sizes in bytes, e.g. 128,4096`);
    }
    return n;
  });
}

/** Markdown table: one row per size and path, times in microseconds. */
function renderTable(profile: Profile, seed: number, results: SizeResult[], anchors: AnchorComparison[]): string {
  const us = (ns: number): string => (ns / 1000).toFixed(2);
  const lines = [
    `profile ${profile.name}, seed ${seed}; times in us, throughput in MB/s (10^6 bytes/s)`,
    '',
    `| size B | path | latency | ${STAGES.join(' | ')} | throughput |`,
    `|---:|---|---:|${STAGES.map(() => '---:').join('|')}|---:|`,
  ];
  for (const r of results) {
    for (const path of PATH_KINDS) {
      const p = r.paths[path];
      const parts = STAGES.map((s) => us(p.latency.breakdownNs[s]));
      lines.push(`| ${r.size} | ${path} | ${us(p.latency.totalNs)} | ${parts.join(' | ')} | ${p.throughputMBps.toFixed(1)} |`);
    }
  }
  lines.push('', '| message B | local Attest us |', '|---:|---:|');
  for (const r of results) lines.push(`| ${r.size} | ${us(r.localAttestNs)} |`);
  if (anchors.length > 0) {
    lines.push('', '| anchor | size B | published | ours | ratio | within |', '|---|---:|---:|---:|---:|---|');
    for (const a of anchors) {
      const unit = a.metric === 'throughput' ? 'MB/s' : 'us';
      lines.push(
        `| ${a.path} ${a.metric} (${unit}) | ${a.size} | ${a.published} | ${a.ours.toFixed(2)} | ${a.ratio.toFixed(3)} | ${a.withinTolerance ? 'yes' : 'NO'} (±${a.tolerance * 100}%) |`,
      );
    }
  }
  return lines.join('\n');
}

/** Modelled Attest latency of the CPU baseline profiles, in virtual time; null where the profile file lacks one. */
interface ModelledBaseline {
  size: number;
  sslLibUs: number | null;
  sslServerUs: number | null;
}

/** Attest time of one message measured on this machine, wall clock, in microseconds. */
interface MeasuredAttest {
  size: number;
  /** node:crypto createHmac in this process, key schedule per message. */
  nodeCryptoUs: number;
  /** @noble/hashes HMAC in this process, precomputed key state cloned per message. */
  nobleUs: number;
  /** One attest request per round trip to the ssl-server process; null above the kernel's 65535-byte limit. */
  socketServerUs: number | null;
}

interface MeasuredBaselines {
  machine: string;
  method: string;
  rows: MeasuredAttest[];
}

const MODELLED_BASELINES = ['ssl-lib', 'ssl-server'] as const;
/** Timed batches per measurement; the median resists other load on the machine. */
const BATCHES = 15;
const BATCH_MS = 2;
const WARMUP_MS = 20;
const ROUND_TRIPS = 100;
const WARMUP_ROUND_TRIPS = 20;

function modelledBaselines(profiles: Map<string, Profile>, sizes: number[]): ModelledBaseline[] {
  const us = (name: string, size: number): number | null => {
    const p = profiles.get(name);
    return p === undefined ? null : localAttestNs(p, messageBytes(p, size)) / 1000;
  };
  return sizes.map((size) => ({ size, sslLibUs: us(MODELLED_BASELINES[0], size), sslServerUs: us(MODELLED_BASELINES[1], size) }));
}

/** HMAC-SHA256 over the 16-byte attestation header and each message size, in this process and through the server. */
async function measureBaselines(sizes: number[], seed: number): Promise<MeasuredBaselines> {
  const prng = new Prng(seed);
  const key = prng.bytes(32);
  const nobleKeyed = hmac.create(sha256, key);
  const rows: MeasuredAttest[] = [];
  for (const size of sizes) {
    // header || msg, with the counter in the header changing from message to message as in Attest.
    const data = new Uint8Array(16 + size);
    data.set(prng.bytes(size), 16);
    const view = new DataView(data.buffer);
    let counter = 0;
    const nodeCryptoUs = medianMicros(() => {
      view.setUint32(12, counter++);
      createHmac('sha256', key).update(data).digest();
    });
    const nobleUs = medianMicros(() => {
      view.setUint32(12, counter++);
      nobleKeyed.clone().update(data).digest();
    });
    rows.push({ size, nodeCryptoUs, nobleUs, socketServerUs: null });
  }

  const server = await SslServerKernel.start();
  try {
    await expectOk(server, [{ op: 'load-key', session: 0, key }]);
    for (const row of rows) {
      if (row.size > MAX_INPUT_BYTES) continue;
      const msg = prng.bytes(row.size);
      for (let i = 0; i < WARMUP_ROUND_TRIPS; i++) await expectOk(server, [{ op: 'attest', session: 0, msg }]);
      const samples: number[] = [];
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const started = performance.now();
        await expectOk(server, [{ op: 'attest', session: 0, msg }]);
        samples.push((performance.now() - started) * 1000);
      }
      row.socketServerUs = median(samples);
    }
  } finally {
    await server.close();
  }

  const cpu = cpus();
  return {
    machine: `${cpu[0]?.model ?? 'unknown CPU'} x${cpu.length}, ${process.platform} ${process.arch}, Node ${process.version}`,
    method:
      `in-process: median of ${BATCHES} batches of about ${BATCH_MS} ms each; server: median of ${ROUND_TRIPS} round trips ` +
      `after ${WARMUP_ROUND_TRIPS} warm-up ones, one attest request each (JSON lines with base64 over a Unix socket)`,
    rows,
  };
}

async function expectOk(server: SslServerKernel, requests: Parameters<SslServerKernel['run']>[0]): Promise<void> {
  const results = await server.run(requests);
  const failed = results.find((r) => r.status !== 'ok');
  if (failed !== undefined) {
    throw new TnicError('ssl-server', `the ssl-server baseline returned ${failed.status} for ${requests[0]!.op} while measuring`);
  }
}

/**
 * Median time of one `op` in microseconds, over BATCHES batches sized to
 * take about BATCH_MS each, after WARMUP_MS of unmeasured runs for the JIT.
 */
function medianMicros(op: () => void): number {
  const warmupEnd = performance.now() + WARMUP_MS;
  while (performance.now() < warmupEnd) for (let i = 0; i < 16; i++) op();
  let perBatch = 1;
  for (;;) {
    const started = performance.now();
    for (let i = 0; i < perBatch; i++) op();
    if (performance.now() - started >= BATCH_MS || perBatch >= 1 << 20) break;
    perBatch *= 2;
  }
  const samples: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const started = performance.now();
    for (let i = 0; i < perBatch; i++) op();
    samples.push(((performance.now() - started) * 1000) / perBatch);
  }
  return median(samples);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Markdown table of the baseline Attest figures: modelled and measured in separate columns. */
function renderBaselines(modelled: ModelledBaseline[], measured: MeasuredBaselines | undefined): string {
  const us = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : v.toFixed(2));
  const lines = [
    'Attest of one message on the CPU baselines, in us. Modelled: profiles ssl-lib and ssl-server (virtual time, ' +
      'built from published figures). Measured: HMAC-SHA256 over the 16-byte header and the message on this machine, ' +
      'wall clock.',
  ];
  if (measured === undefined) lines.push('Measured columns: not measured (--no-measured).');
  else lines.push(`Measured on ${measured.machine}; ${measured.method}.`);
  lines.push(
    '',
    '| message B | ssl-lib modelled | ssl-server modelled | measured: node:crypto in process | ' +
      'measured: @noble/hashes in process | measured: ssl-server process over a Unix socket |',
    '|---:|---:|---:|---:|---:|---:|',
  );
  for (const m of modelled) {
    const row = measured?.rows.find((r) => r.size === m.size);
    lines.push(
      `| ${m.size} | ${us(m.sslLibUs)} | ${us(m.sslServerUs)} | ${us(row?.nodeCryptoUs)} | ${us(row?.nobleUs)} | ${us(row?.socketServerUs)} |`,
    );
  }
  if (measured !== undefined && measured.rows.some((r) => r.socketServerUs === null)) {
    lines.push('', `The server column is empty above ${MAX_INPUT_BYTES} bytes, the largest message the kernel interface takes.`);
  }
  return lines.join('\n');
}

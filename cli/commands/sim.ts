/**
 * `tnic sim`: run the NIC pipeline simulator for one device profile over a
 * list of message sizes and print, per size and path, the latency with its
 * breakdown and the sustained throughput. Writes the same as JSON and as a
 * Markdown table into --out, and optionally the traffic of the
 * attest-plus-verify runs as a pcap file.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Command } from 'commander';

import { InputError } from '../../sim/errors.ts';
import { randomSeed } from '../../sim/prng.ts';
import { compareAnchors, type AnchorComparison } from '../../sim/nic/anchors.ts';
import { measureSize, messageBytes, type SizeResult } from '../../sim/nic/experiments.ts';
import { PATH_KINDS, STAGES } from '../../sim/nic/network.ts';
import { PcapWriter } from '../../sim/nic/pcap.ts';
import { DEFAULT_PROFILES_FILE, getProfile, loadProfiles, type Profile } from '../../sim/nic/profiles.ts';
import { parseIntOption } from '../options.ts';

const MAX_SIZE = 1 << 24;

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('simulate TNIC nodes (DMA, attestation kernel, RoCE v2, link) and report latency and throughput')
    .requiredOption('--profile <name>', 'device profile, e.g. tnic-prototype, tnic, ssl-lib, ssl-server, sgx, amd-sev')
    .option('--sizes <list>', 'comma-separated message sizes in bytes', parseSizes, [128, 1024, 4096, 32768])
    .requiredOption('--out <dir>', 'directory for sim-<profile>.json and sim-<profile>.md (created if missing)')
    .option('--pcap <file>', 'write the attest-plus-verify traffic as a classic pcap file')
    .option('--seed <n>', 'PRNG seed (0..4294967295); random and printed when absent', parseIntOption('--seed', 0, 2 ** 32 - 1))
    .option('--profiles <file>', 'profile file (JSON)', DEFAULT_PROFILES_FILE)
    .action((opts: { profile: string; sizes: number[]; out: string; pcap?: string; seed?: number; profiles: string }) => {
      const profile = getProfile(loadProfiles(opts.profiles), opts.profile);
      for (const size of opts.sizes) messageBytes(profile, size);
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
      const table = renderTable(profile, seed, results, anchors);
      console.log(table);

      mkdirSync(opts.out, { recursive: true });
      const base = join(opts.out, `sim-${profile.name}`);
      writeFileSync(`${base}.json`, JSON.stringify({ profile, seed, results, anchors }, null, 2) + '\n');
      writeFileSync(`${base}.md`, table + '\n');
      console.error(`sim: wrote ${base}.json and ${base}.md`);
      if (pcap !== undefined && opts.pcap !== undefined) {
        writeFileSync(opts.pcap, pcap.bytes());
        console.error(`sim: wrote ${pcap.records} frames to ${opts.pcap}`);
      }
    });
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

/**
 * FPGA resource counts of the kernel from Yosys: `synth_xilinx -family xcup`
 * (UltraScale+) out of context, so no I/O buffers are inserted because the
 * kernel sits inside a NIC design rather than on device pins. Each
 * configuration is synthesized in build/synth/<name>/ with its script,
 * full log and `stat -json` output kept there.
 *
 * The counts are Yosys cell counts, not a Vivado utilization report: Vivado
 * packs, optimizes and maps carry chains differently, so compare orders of
 * magnitude rather than single percent.
 */

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { TnicError } from '../sim/errors.ts';
import { REPO_ROOT, RTL_SOURCES } from './build_rtl.ts';

const HW_DIR = join(REPO_ROOT, 'hw');
const SYNTH_DIR = join(REPO_ROOT, 'build', 'synth');
const TOP = 'tnic_kernel';

/**
 * The attestation kernel of the TNIC prototype as its authors published it
 * (Giantsidi et al., "TNIC: A Trusted NIC Architecture", ASPLOS 2025).
 * NOTE: not re-checked here against the paper's tables.
 */
export const PROTOTYPE_KERNEL = { lut: 34_138, ff: 56_914, ramb36: 81, rtlLines: 2_114 } as const;

export interface SynthConfig {
  /** N_SESSIONS of tnic_kernel: keystore and counter slots. */
  sessions: number;
  /** Flatten the hierarchy before synthesis (slower, optimizes across modules). */
  flatten: boolean;
  /** DATA_W of tnic_kernel, the input stream width in bits; 32 when absent. */
  dataWidth?: number;
}

export interface SynthReport {
  config: SynthConfig;
  /** CLB LUTs: logic LUTs plus LUTs used as distributed RAM or shift registers. */
  lut: number;
  lutLogic: number;
  lutMemory: number;
  /** Yosys 0.23 keeps inverters as INV cells outside the LUT count. */
  inv: number;
  ff: number;
  ramb36: number;
  ramb18: number;
  /** Block RAM in RAMB36 units: RAMB36 + RAMB18 / 2. */
  bramRamb36: number;
  uram: number;
  dsp: number;
  cells: Record<string, number>;
  seconds: number;
  logFile: string;
}

export interface SynthOptions {
  /** Called with progress lines: start, every 30 s, end. */
  log?: (line: string) => void;
  /** Stop Yosys after this many milliseconds. */
  timeoutMs?: number;
}

// LUTs per distributed-RAM or shift-register primitive (UltraScale+ CLB).
const LUT_MEMORY_CELLS: Record<string, number> = {
  RAM32X1S: 1,
  RAM64X1S: 1,
  RAM128X1S: 2,
  RAM256X1S: 4,
  RAM512X1S: 8,
  RAM32X1D: 2,
  RAM64X1D: 2,
  RAM128X1D: 4,
  RAM256X1D: 8,
  RAM32M: 4,
  RAM64M: 4,
  RAM32M16: 8,
  RAM64M8: 8,
  SRL16E: 1,
  SRLC32E: 1,
};
const FF_CELLS = ['FDRE', 'FDSE', 'FDCE', 'FDPE'];

/** Return the Yosys version line, or fail with the install command. */
export function yosysVersion(): string {
  const probe = spawnSync('yosys', ['-V'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new TnicError('yosys-missing', 'yosys not found on PATH; install it with `apt-get install -y yosys`');
  }
  return probe.stdout.trim();
}

export function configName(config: SynthConfig): string {
  const width = config.dataWidth !== undefined && config.dataWidth !== 32 ? `-data-${config.dataWidth}` : '';
  return `sessions-${config.sessions}${width}${config.flatten ? '-flat' : ''}`;
}

function readSources(): string {
  return `read_verilog -I${HW_DIR} ${RTL_SOURCES.map((f) => join(HW_DIR, f)).join(' ')}`;
}

/** Build the Yosys script of one configuration, which writes `stat -json` to `statFile`. */
export function synthScript(config: SynthConfig, statFile: string): string {
  const flags = ['-family xcup', `-top ${TOP}`, '-noiopad', ...(config.flatten ? ['-flatten'] : [])];
  return [
    readSources(),
    `chparam -set N_SESSIONS ${config.sessions}${config.dataWidth !== undefined ? ` -set DATA_W ${config.dataWidth}` : ''} ${TOP}`,
    `synth_xilinx ${flags.join(' ')}`,
    // NOTE: Yosys 0.23 writes the hierarchy tree into `stat -json` output, which breaks the JSON,
    // so the netlist is flattened first. Flattening only inlines instances; cell counts stay.
    'flatten',
    // chparam renames the top to $paramod\tnic_kernel\N_SESSIONS=...; stat finds it by its top attribute.
    `tee -q -o ${statFile} stat -json`,
    '',
  ].join('\n');
}

/** Sum the cell counts of a synthesized design into LUT, FF and RAM figures. */
export function summarizeCells(cells: Record<string, number>): Omit<SynthReport, 'config' | 'seconds' | 'logFile'> {
  const count = (name: string): number => cells[name] ?? 0;
  const lutLogic = [1, 2, 3, 4, 5, 6].reduce((sum, n) => sum + count(`LUT${n}`), 0);
  const lutMemory = Object.entries(LUT_MEMORY_CELLS).reduce((sum, [name, luts]) => sum + count(name) * luts, 0);
  const ramb36 = count('RAMB36E2') + count('RAMB36E1');
  const ramb18 = count('RAMB18E2') + count('RAMB18E1');
  return {
    lut: lutLogic + lutMemory,
    lutLogic,
    lutMemory,
    inv: count('INV'),
    ff: FF_CELLS.reduce((sum, name) => sum + count(name), 0),
    ramb36,
    ramb18,
    bramRamb36: ramb36 + ramb18 / 2,
    uram: count('URAM288'),
    dsp: count('DSP48E2') + count('DSP48E1'),
    cells,
  };
}

/** Cell counts of the whole design from `stat -json` output. */
export function designCells(statJson: string): Record<string, number> {
  const stat = JSON.parse(statJson) as {
    design?: { num_cells_by_type?: Record<string, number> };
    modules?: Record<string, { num_cells_by_type?: Record<string, number> }>;
  };
  // A flattened design has one module and may come without hierarchy totals.
  const modules = Object.entries(stat.modules ?? {})
    .filter(([name]) => name.includes(TOP))
    .map(([, module]) => module);
  const cells = stat.design?.num_cells_by_type ?? (modules.length === 1 ? modules[0]!.num_cells_by_type : undefined);
  if (!cells) throw new TnicError('synth-failed', `yosys stat output has no design totals for ${TOP}`);
  return cells;
}

function lastPass(logFile: string): string {
  try {
    const passes = readFileSync(logFile, 'utf8').match(/^[\d.]+ Executing [^\n]*/gm);
    return passes?.at(-1) ?? 'starting';
  } catch {
    return 'starting';
  }
}

/** Run `synth_xilinx` on one configuration and return its resource counts. */
export async function synthesize(config: SynthConfig, options: SynthOptions = {}): Promise<SynthReport> {
  const log = options.log ?? (() => {});
  const dir = join(SYNTH_DIR, configName(config));
  mkdirSync(dir, { recursive: true });
  const scriptFile = join(dir, 'synth.ys');
  const statFile = join(dir, 'stat.json');
  const logFile = join(dir, 'yosys.log');
  writeFileSync(scriptFile, synthScript(config, statFile));

  log(`synth ${configName(config)}: started (log: ${logFile})`);
  const started = Date.now();
  const child = spawn('yosys', ['-q', '-l', logFile, '-s', scriptFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const progress = setInterval(() => {
    log(`synth ${configName(config)}: ${Math.round((Date.now() - started) / 1000)} s, ${lastPass(logFile)}`);
  }, 30_000);
  const timeout = setTimeout(() => child.kill(), options.timeoutMs ?? 3_600_000);

  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new TnicError('yosys-missing', `yosys could not start: ${err.message}`)));
    child.once('exit', resolve);
  }).finally(() => {
    clearInterval(progress);
    clearTimeout(timeout);
  });
  const seconds = (Date.now() - started) / 1000;
  if (code !== 0) {
    const reason = code === null ? `timed out after ${seconds.toFixed(0)} s during ${lastPass(logFile)}` : `exit code ${code}`;
    throw new TnicError('synth-failed', `yosys failed for ${configName(config)} (${reason}); see ${logFile}\n${stderr.trim()}`);
  }

  const report = { config, ...summarizeCells(designCells(readFileSync(statFile, 'utf8'))), seconds, logFile };
  log(`synth ${configName(config)}: done in ${seconds.toFixed(0)} s`);
  return report;
}

/** Elaborate the RTL in Yosys without synthesis: `hierarchy -check` and `proc`. */
export function yosysElaborate(): { status: number | null; output: string } {
  const script = `${readSources()}; hierarchy -check -top ${TOP}; proc`;
  const r = spawnSync('yosys', ['-q', '-p', script], { encoding: 'utf8' });
  if (r.error) throw new TnicError('yosys-missing', `yosys could not start: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

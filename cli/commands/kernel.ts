/**
 * `tnic kernel attest|verify`: run JSON-lines transactions through one
 * kernel backend and print one JSON result per input line.
 */

import type { Command } from 'commander';

import { InputError, TnicError } from '../../sim/errors.ts';
import type { AttestationKernel, KernelRequest, KernelResult } from '../../sim/kernel_port.ts';
import { openKernel, type Backend } from '../../stack/kernel_backend.ts';
import { FieldReader, readJsonLines, type JsonRecord } from '../jsonl.ts';
import { BACKEND_HELP, parseBackend, parseIntOption } from '../options.ts';

/** A kernel request and, for a request that comes from an input line, how to print its result. */
interface Step {
  request: KernelRequest;
  print?: (r: KernelResult) => string;
}

const BATCH = 1000;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Emit a load-key step the first time a session appears. Keys are
 * write-once, so a later line with another key for that session is an
 * input error.
 */
class KeyLoader {
  #keys = new Map<number, Uint8Array>();

  load(where: string, session: number, key: Uint8Array, steps: Step[]): void {
    const known = this.#keys.get(session);
    if (known === undefined) {
      this.#keys.set(session, key);
      steps.push({ request: { op: 'load-key', session, key } });
    } else if (Buffer.compare(known, key) !== 0) {
      throw new InputError(
        `${where}: session ${session} already has a different key; keys are loaded once per session`,
      );
    }
  }
}

/** Run the steps in batches, printing results in input order as each batch returns. */
async function runSteps(backend: Backend, steps: Step[]): Promise<void> {
  const kernel: AttestationKernel = await openKernel(backend, { log: (l) => console.error(l) });
  try {
    for (let start = 0; start < steps.length; start += BATCH) {
      const batch = steps.slice(start, start + BATCH);
      const results = await kernel.run(batch.map((s) => s.request));
      const lines = batch.flatMap((s, i) => (s.print ? [s.print(results[i]!)] : []));
      if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
    }
  } finally {
    await kernel.close();
  }
}

/** One input line read into its session, its key and the step it asks for. */
interface LineStep {
  session: number;
  key: Uint8Array;
  step: Step;
}

/**
 * Read every line of `input` with `readLine` and return the steps: SET_ID
 * first, then each line's step, preceded by a LOAD_KEY when its session is new.
 */
function buildSteps(
  input: string,
  device: number,
  readLine: (where: string, f: FieldReader, record: JsonRecord) => LineStep,
): Step[] {
  const steps: Step[] = [{ request: { op: 'set-id', device } }];
  const keys = new KeyLoader();
  for (const { line, record } of readJsonLines(input)) {
    const where = `${input}:${line}`;
    const { session, key, step } = readLine(where, new FieldReader(where, record), record);
    keys.load(where, session, key, steps);
    steps.push(step);
  }
  return steps;
}

function attestSteps(input: string, device: number): Step[] {
  return buildSteps(input, device, (where, f) => {
    const session = f.session();
    const key = f.hex('key');
    const msg = f.hex('msg');
    const print = (r: KernelResult): string => {
      if (r.status !== 'ok') throw new TnicError(`kernel-${r.status}`, `${where}: attest failed: ${r.status}`);
      return JSON.stringify({ session, counter: String(r.counter), alpha: hex(r.tag), cycles: r.cycles });
    };
    return { session, key, step: { request: { op: 'attest', session, msg }, print } };
  });
}

function verifySteps(input: string, device: number): Step[] {
  return buildSteps(input, device, (where, f, record) => {
    const session = f.session();
    const key = f.hex('key');
    const sender = f.u32('device');
    const counter = readCounter(where, f, record);
    const msg = f.hex('msg');
    const tag = f.tag('alpha');
    const print = (r: KernelResult): string =>
      JSON.stringify({ accepted: r.status === 'ok', reason: r.status, cycles: r.cycles });
    return { session, key, step: { request: { op: 'verify', session, device: sender, counter, tag, msg }, print } };
  });
}

/**
 * Read the counter field. A JSON number with a fraction is rejected as not
 * an integer here, before the reader's check for numbers beyond 2^53, which
 * would misname it.
 */
function readCounter(where: string, f: FieldReader, record: JsonRecord): bigint {
  const value = record.counter;
  if (typeof value === 'number' && Number.isFinite(value) && !Number.isInteger(value)) {
    throw new InputError(
      `${where}: field 'counter' is ${value}, which is not an integer; give the counter as a decimal string such as "5"`,
    );
  }
  return f.counter('counter');
}

export function registerKernel(program: Command): void {
  const kernel = program
    .command('kernel')
    .description('run attestation kernel transactions on the model or the Verilator RTL');
  const deviceOption = parseIntOption('--device', 0, 0xffffffff);

  kernel
    .command('attest')
    .description('attest each message; input lines {"session":N,"key":"hex","msg":"hex"}')
    .requiredOption('--input <file>', 'JSON-lines file of messages')
    .option('--backend <name>', BACKEND_HELP, parseBackend, 'model' as Backend)
    .option('--device <id>', 'device id written into every header', deviceOption, 0)
    .action(async (opts: { input: string; backend: Backend; device: number }) => {
      await runSteps(opts.backend, attestSteps(opts.input, opts.device));
    });

  kernel
    .command('verify')
    .description(
      'verify each attested message; input lines ' +
        '{"session":N,"key":"hex","device":D,"counter":"decimal","msg":"hex","alpha":"hex"}',
    )
    .requiredOption('--input <file>', 'JSON-lines file of attested messages')
    .option('--backend <name>', BACKEND_HELP, parseBackend, 'model' as Backend)
    .option(
      '--device <id>',
      "the verifying device's own id; the header uses each line's device field (the sender's)",
      deviceOption,
      0,
    )
    .action(async (opts: { input: string; backend: Backend; device: number }) => {
      await runSteps(opts.backend, verifySteps(opts.input, opts.device));
    });
}

/**
 * Runs the cocotb test suite of the kernel (verify/cocotb/test_tnic_vectors.py
 * on Icarus Verilog) and reads its xUnit results file.
 */

import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { TnicError } from '../sim/errors.ts';
import { REPO_ROOT } from './build_rtl.ts';
import { COCOTB_RUNNER } from './cocotb_bridge.ts';

export interface CocotbTestCase {
  name: string;
  /** Failure or error message; undefined when the test passed. */
  failure?: string;
}

export interface CocotbSuiteReport {
  exitCode: number | null;
  resultsFile: string;
  cases: CocotbTestCase[];
  /** Last lines of the simulator output, for failure messages. */
  outputTail: string;
}

export const VECTOR_RESULTS = join(REPO_ROOT, 'build', 'cocotb', 'vectors', 'results.xml');

const unescapeXml = (text: string): string =>
  text
    .replace(/&#(\d+);/g, (_entity, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_entity, code: string) => String.fromCodePoint(parseInt(code, 16)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

/** Read the test cases of a cocotb xUnit results file: name and failure message, if any. */
export function parseResultsXml(xml: string): CocotbTestCase[] {
  const cases: CocotbTestCase[] = [];
  const testcase = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const match of xml.matchAll(testcase)) {
    const name = /\bname="([^"]*)"/.exec(match[1]!)?.[1] ?? '?';
    const body = match[3] ?? '';
    const failure = /<(failure|error)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    const message = failure && (/\bmessage="([^"]*)"/.exec(failure[2]!)?.[1] ?? failure[3] ?? failure[1]!);
    cases.push({ name: unescapeXml(name), failure: message === null ? undefined : unescapeXml(message) });
  }
  return cases;
}

/** Run the vector and negative-case suite with the given backpressure seed. */
export async function runCocotbVectors(seed: number, log?: (line: string) => void): Promise<CocotbSuiteReport> {
  // A results file left by an earlier run must not pass for this one.
  rmSync(VECTOR_RESULTS, { force: true });
  const child = spawn('python3', [COCOTB_RUNNER, 'vectors', '--results', VECTOR_RESULTS], {
    env: { ...process.env, TNIC_SEED: String(seed >>> 0) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
      if (log) chunk.toString().split('\n').filter(Boolean).forEach(log);
    });
  }
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new TnicError('cocotb-missing', `python3 could not start: ${err.message}`)));
    child.once('exit', resolve);
  });

  let xml: string;
  try {
    xml = readFileSync(VECTOR_RESULTS, 'utf8');
  } catch {
    throw new TnicError('cocotb-failed', `cocotb wrote no results (exit code ${exitCode}):\n${output.trim()}`);
  }
  return { exitCode, resultsFile: VECTOR_RESULTS, cases: parseResultsXml(xml), outputTail: output };
}

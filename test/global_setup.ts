import { ensureRtlBuilt } from '../verify/build_rtl.ts';

/**
 * Build both RTL harness variants (plain and VCD-tracing) before any test
 * file runs, so parallel files reuse them and no test waits on a compile.
 */
export default function setup(): void {
  ensureRtlBuilt({ log: (line) => console.log(line) });
  ensureRtlBuilt({ log: (line) => console.log(line), trace: true });
}

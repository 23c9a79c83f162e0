import { ensureRtlBuilt } from '../verify/build_rtl.ts';

/** Build the RTL harness before any test file runs, so parallel files reuse one build. */
export default function setup(): void {
  ensureRtlBuilt({ log: (line) => console.log(line) });
}

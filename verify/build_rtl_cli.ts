/** `npm run build:rtl`: build the Verilator harness if hw/ changed. */
import { TnicError } from '../sim/errors.ts';
import { ensureRtlBuilt } from './build_rtl.ts';

try {
  const binary = ensureRtlBuilt({ log: (line) => console.log(line) });
  console.log(`RTL harness: ${binary}`);
} catch (err) {
  if (!(err instanceof TnicError)) throw err;
  console.error(`error: ${err.message}`);
  process.exit(1);
}

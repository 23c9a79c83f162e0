/** `tnic wave diff A.vcd B.vcd`: the first signal and time at which two traces differ. */

import type { Command } from 'commander';

import { TnicError } from '../../sim/errors.ts';
import { diffVcd } from '../../verify/vcd_diff.ts';

export function registerWave(program: Command): void {
  const wave = program.command('wave').description('work with VCD waveform files');
  wave
    .command('diff')
    .description('print the first differing signal and time of two VCD files (signals matched by full name)')
    .argument('<a>', 'first VCD file')
    .argument('<b>', 'second VCD file')
    .action((a: string, b: string) => {
      const d = diffVcd(a, b);
      console.log(`${d.common} signals in both, ${d.onlyA} only in ${a}, ${d.onlyB} only in ${b}`);
      if (d.first) {
        const f = d.first;
        console.log(`first difference at time ${f.time}: ${f.signal}: ${a}=${f.a} ${b}=${f.b}`);
        throw new TnicError('wave-differ', `${a} and ${b} differ at time ${f.time} on ${f.signal}`);
      }
      if (d.ends) {
        console.log(`no difference on the common signals up to time ${Math.min(d.ends.a, d.ends.b)}`);
        throw new TnicError('wave-differ', `${a} ends at time ${d.ends.a}, ${b} at time ${d.ends.b}`);
      }
      console.log('no difference on the common signals');
    });
}

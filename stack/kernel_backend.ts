/**
 * Kernel backends by name: "model" is the cycle model of the RTL
 * (sim/cycle/), "rtl" the Verilator simulation (built on first use).
 */

import type { AttestationKernel } from '../sim/kernel_port.ts';
import { CycleKernel } from '../sim/cycle/kernel_driver.ts';
import { RtlKernel } from '../verify/rtl_bridge.ts';
import type { BuildOptions } from '../verify/build_rtl.ts';

export type Backend = 'model' | 'rtl';
export const BACKENDS: readonly Backend[] = ['model', 'rtl'];

export async function openKernel(backend: Backend, options: BuildOptions = {}): Promise<AttestationKernel> {
  // The fast mode skips only edges in which nothing but SHA-256 rounds happen.
  return backend === 'rtl' ? RtlKernel.start(options) : new CycleKernel(undefined, { fast: true });
}

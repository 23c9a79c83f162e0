/**
 * Kernel backends by name: "model" is the cycle model of the RTL
 * (sim/cycle/), "rtl" the Verilator simulation (built on first use). The
 * CPU baselines of stack/baselines/ follow. "ssl-lib" computes the HMAC in
 * the application process and "ssl-server" in a local server process.
 * "sgx" and "sev" compute it in the application process and model the
 * latency of an SGX enclave or an AMD-SEV VM, without running in one.
 */

import type { AttestationKernel } from '../sim/kernel_port.ts';
import { CycleKernel } from '../sim/cycle/kernel_driver.ts';
import { RtlKernel } from '../verify/rtl_bridge.ts';
import type { BuildOptions } from '../verify/build_rtl.ts';
import { BASELINE_BACKENDS, openBaselineKernel, type BaselineBackend } from './baselines/baseline_kernel.ts';

export type Backend = 'model' | 'rtl' | BaselineBackend;
export const BACKENDS: readonly Backend[] = ['model', 'rtl', ...BASELINE_BACKENDS];

export async function openKernel(backend: Backend, options: BuildOptions = {}): Promise<AttestationKernel> {
  switch (backend) {
    case 'model':
      // The fast mode clocks no engine for commands without stalls (sim/cycle/kernel_events.ts); results and cycles stay exact.
      return new CycleKernel(undefined, { fast: true });
    case 'rtl':
      return RtlKernel.start(options);
    default:
      return openBaselineKernel(backend);
  }
}

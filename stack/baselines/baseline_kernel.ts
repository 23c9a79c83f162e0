/**
 * The CPU baseline devices as attestation kernels. ssl-lib computes the
 * HMAC in the application process and ssl-server in a separate local
 * server process. sgx and sev compute it in the application process and
 * model the latency of an SGX enclave or an AMD-SEV confidential VM.
 * Each returns exactly the results of the reference model, except that
 * `cycles` is 0, because a CPU has no kernel clock.
 *
 * The modelled latency of each result is reported through latencyNs()
 * instead of a field of KernelResult, so the result type, shared by every
 * backend and compared field by field in co-simulation, stays unchanged.
 */

import type { AttestationKernel, KernelResult } from '../../sim/kernel_port.ts';
import { BASELINE_BACKENDS, type BaselineBackend, type BaselineCosts } from './cost_model.ts';
import { InProcessKernel } from './in_process_kernel.ts';
import { SslServerKernel } from './ssl_server_kernel.ts';

export { BASELINE_BACKENDS, type BaselineBackend, type BaselineCosts };

export interface BaselineKernel extends AttestationKernel {
  readonly backend: BaselineBackend;
  /** Modelled latency of a result that this kernel returned, in nanoseconds, or undefined for any other object. */
  latencyNs(result: KernelResult): number | undefined;
  /** Totals since the kernel was opened, which reset() keeps. */
  readonly costs: BaselineCosts;
}

export function isBaselineBackend(name: string): name is BaselineBackend {
  return (BASELINE_BACKENDS as readonly string[]).includes(name);
}

export function isBaselineKernel(kernel: AttestationKernel): kernel is BaselineKernel {
  return isBaselineBackend(kernel.backend) && 'latencyNs' in kernel;
}

/** Open a baseline device. For ssl-server this starts the server process and waits until it listens. */
export async function openBaselineKernel(backend: BaselineBackend): Promise<BaselineKernel> {
  return backend === 'ssl-server' ? SslServerKernel.start() : new InProcessKernel(backend);
}

/**
 * A baseline device whose HMAC runs in the application process: ssl-lib
 * as it is, sgx and sev with the latency of their TEE modelled (see
 * cost_model.ts). Nothing here runs inside an enclave or a confidential VM.
 */

import type { KernelRequest, KernelResult } from '../../sim/kernel_port.ts';
import { CostMeter, type BaselineBackend, type BaselineCosts } from './cost_model.ts';
import { SoftwareAttestationCore } from './software_core.ts';
import type { BaselineKernel } from './baseline_kernel.ts';

export class InProcessKernel implements BaselineKernel {
  readonly #core = new SoftwareAttestationCore();
  readonly #meter: CostMeter;
  readonly #latencies = new WeakMap<KernelResult, number>();

  constructor(readonly backend: Exclude<BaselineBackend, 'ssl-server'>) {
    this.#meter = new CostMeter(backend);
  }

  /**
   * Run the requests in order; consecutive ATTEST, VERIFY and CHECK commands are hashed
   * together (multi-buffer). A request that the command port cannot carry throws InputError
   * and stops the batch, after the requests before it ran and were charged.
   */
  async run(requests: readonly KernelRequest[]): Promise<KernelResult[]> {
    return this.#core.stepAll(requests, (req, res) => {
      this.#latencies.set(res, this.#meter.charge(req, res));
    });
  }

  latencyNs(result: KernelResult): number | undefined {
    return this.#latencies.get(result);
  }

  get costs(): BaselineCosts {
    return this.#meter.costs;
  }

  async reset(): Promise<void> {
    this.#core.reset();
  }

  async close(): Promise<void> {
    this.#core.reset();
  }
}

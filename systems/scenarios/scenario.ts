/**
 * Named fault scenarios: each states its expected outcome in words and
 * checks it after a seeded run on the simulated network. A run passes when
 * every check passes; the client's history is always among the checks.
 */

import { InputError, TnicError } from '../../api/errors.ts';
import type { Backend } from '../../api/tnic_api.ts';
import type { SimulatedNetwork } from '../replication/network.ts';

export type HistoryVerdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface ScenarioContext {
  /** A fresh simulated network, seeded with `seed`. */
  network: SimulatedNetwork;
  backend: Backend;
  seed: number;
  /** Decides a client history in Jepsen's log format. */
  checkHistory(jepsenLog: string): HistoryVerdict;
  /** Receives start, progress and end lines. */
  log(line: string): void;
}

export interface ScenarioCheck {
  name: string;
  passed: boolean;
  /** The run's observation, e.g. "3 rejected". */
  observed: string;
}

export interface ScenarioResult {
  scenario: string;
  expected: string;
  seed: number;
  checks: ScenarioCheck[];
  met: boolean;
  /** The client's history in Jepsen's log format. */
  history: string;
  verdict: HistoryVerdict;
  completed: number;
  operations: number;
  /** Virtual milliseconds the run took. */
  virtualMs: number;
}

export interface Scenario {
  name: string;
  /** The expected outcome, e.g. "prevented: the forgery is rejected and every operation completes". */
  expected: string;
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

/**
 * The client workloads a fault scenario is checked with. A fault lands at a
 * set time or batch. A smaller workload, or a much wider one that finishes
 * sooner, can end before it, and its checks then fail for that reason alone.
 */
export interface WorkloadRange {
  minProcesses: number;
  maxProcesses: number;
  minOperations: number;
}

/** Any workload: for scenarios without a timed fault. */
export const ANY_WORKLOAD: WorkloadRange = { minProcesses: 1, maxProcesses: Infinity, minOperations: 1 };

/** The range every fault scenario meets its outcome in, on seeds swept with the simulated network. */
export const FAULT_WORKLOAD: WorkloadRange = { minProcesses: 2, maxProcesses: 12, minOperations: 8 };

/** Reject a workload outside `range` as bad input, naming the scenario, the value and the fix. */
export function checkWorkload(
  system: string,
  scenario: string,
  range: WorkloadRange,
  processes: number,
  operations: number,
): void {
  const fix = 'so that its fault lands while operations run';
  if (processes < range.minProcesses || processes > range.maxProcesses) {
    throw new InputError(
      `${system} scenario ${scenario} needs ${range.minProcesses} to ${range.maxProcesses} client processes, ` +
        `not ${processes}, ${fix}; set --processes in that range`,
    );
  }
  if (operations < range.minOperations) {
    throw new InputError(
      `${system} scenario ${scenario} needs at least ${range.minOperations} operations per process, ` +
        `not ${operations}, ${fix}; raise --operations`,
    );
  }
}

export function check(name: string, passed: boolean, observed: string): ScenarioCheck {
  return { name, passed, observed };
}

/** Find `name` in `scenarios`; the error lists the valid names. */
export function findScenario(scenarios: readonly Scenario[], name: string, system: string): Scenario {
  const scenario = scenarios.find((s) => s.name === name);
  if (scenario !== undefined) return scenario;
  const names = scenarios.map((s) => s.name).join(', ');
  throw new UnknownScenarioError(`unknown ${system} scenario '${name}'; use one of: ${names}`);
}

/** A scenario name that the system does not define; the message lists the valid names. */
export class UnknownScenarioError extends TnicError {
  constructor(message: string) {
    super('invalid-input', message);
    this.name = 'UnknownScenarioError';
  }
}

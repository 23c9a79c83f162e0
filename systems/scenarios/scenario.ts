/**
 * Named fault scenarios: each states its expected outcome in words and
 * checks it after a seeded run on the simulated network. A run passes when
 * every check passes; the client's history is always among the checks.
 */

import { TnicError } from '../../api/errors.ts';
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

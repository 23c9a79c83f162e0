/** Text form of a protocol check: bounds, counts, time, and a numbered trace for each violation. */

import { describeBounds } from './config.ts';
import type { ProtocolReport } from './checker.ts';
import { PROPERTY_NAMES, SANITY_NAMES } from './properties.ts';

/** Names of the failed checks: violated properties, then existence checks that were never reached. */
export function failedProperties(report: ProtocolReport): string[] {
  const failed: string[] = report.violations.map((v) => v.property);
  for (const name of SANITY_NAMES) {
    if (report.sanity[name] === false) failed.push(name);
  }
  return failed;
}

export function formatReport(report: ProtocolReport): string[] {
  const lines = [
    `subject: ${report.subject}`,
    `bounds: ${describeBounds(report.bounds)}`,
    `explored: ${report.states} states, ${report.transitions} transitions in ${report.seconds.toFixed(2)} s ` +
      `(${report.kernelSteps} kernel commands run, ${report.cacheHits} results reused)`,
  ];
  if (report.violations.length > 0) {
    lines.push('traces stop at their first violation, so a violation that only follows another one is not shown');
  }
  if (report.truncated) {
    lines.push('coverage: stopped at the state limit, so the bounds were not fully explored');
  } else if (report.statesBeyondBound === 0) {
    lines.push('coverage: no new state lies past the depth bound, so traces of every length were covered within the other bounds');
  } else {
    lines.push(`coverage: ${report.statesBeyondBound} new states lie one step past the depth bound and were not explored`);
  }

  const violated = new Set(report.violations.map((v) => v.property));
  for (const name of PROPERTY_NAMES) {
    if (name === 'transferable_auth' && !report.bounds.checker) continue;
    lines.push(`  ${violated.has(name) ? 'VIOLATED' : 'holds   '} ${name}`);
  }
  for (const name of SANITY_NAMES) {
    const reached = report.sanity[name];
    if (reached === undefined) continue;
    lines.push(`  ${reached ? 'reached ' : 'FAILED  '} ${name}${reached ? '' : ' (no state has a genuine message accepted)'}`);
  }

  for (const v of report.violations) {
    lines.push('', `${v.property} violated: ${v.detail}`);
    for (const step of v.trace) lines.push(`  ${step.number}. ${step.action}`, `     -> ${step.result}`);
  }
  return lines;
}

/**
 * The client process of a replicated system (BFT or chain replication):
 * it checks the replicas' certificates from the vendor's start message,
 * runs the QuorumClient's workload, logs progress, and once every
 * operation completed writes the Jepsen history and the summary.
 */

import { writeFileSync } from 'node:fs';

import { TnicError } from '../../api/errors.ts';
import type { History } from '../replication/history.ts';
import type { QuorumClient } from '../replication/quorum_client.ts';
import type { RequestResult } from '../replication/request.ts';
import {
  SignedReplyClient,
  type CertifiedReplica,
  type ReplicaIdentity,
} from '../replication/signed_reply_client.ts';
import { ProgressLog, writeSummary, type RoleContext, type SystemRole } from './system_role.ts';

/**
 * Build the checker of signed replies from the start message: the vendor's
 * trust roots and each replica's client key certificate. Throws when a
 * certificate is missing or its chain fails, since the vendor bootstrapped
 * every replica.
 */
export async function signedReplies(
  context: RoleContext,
  replicas: readonly ReplicaIdentity[],
  options: { quorum: number; required?: number; resultsOf(payload: unknown): RequestResult[] },
): Promise<SignedReplyClient> {
  const certified: CertifiedReplica[] = replicas.map((identity) => {
    const certificate = context.start.certificates.get(identity.name);
    if (certificate === undefined) {
      throw new TnicError(
        'cluster-start-failed',
        `the vendor's start message has no client key certificate of ${identity.name}; start the cluster again`,
      );
    }
    return { identity, certificate };
  });
  const replies = await SignedReplyClient.create({ roots: context.start.roots, replicas: certified, ...options });
  replies.expectAllCertified();
  return replies;
}

/** Drive `client` through its workload of `operations` operations; see the file comment. */
export function quorumDriver(
  context: RoleContext,
  client: QuorumClient,
  history: History,
  operations: number,
): SystemRole {
  const { system, output } = context;
  const progress = new ProgressLog(output);
  let started = 0;
  let done = false;

  const finish = (finished: boolean): void => {
    done = true;
    const pending = history.closePending();
    if (system.history !== undefined) writeFileSync(system.history, history.toJepsenLog());
    const wallMs = Math.round(performance.now() - started);
    const outcome = finished ? 'all completed' : `stopped first, ${pending} pending`;
    writeSummary(context, {
      system: system.kind,
      process: context.name,
      finished,
      operations,
      completed: client.completed,
      wallMs,
      line: `${client.completed} of ${operations} operations completed in ${wallMs} ms (${outcome})`,
      history: system.history,
      resent: client.resent,
      rejectedReplies: { ...client.rejected },
      conflicting: Object.fromEntries(client.conflicting),
    });
  };

  return {
    start: async () => {
      started = performance.now();
      const processes = system.workload.processes;
      output.log(`running ${processes} processes x ${system.workload.operations} operations (seed ${system.workload.seed})`);
      await client.start();
    },
    tick: async () => {
      if (done) return;
      if (client.completed >= operations) {
        finish(true);
        return;
      }
      const line = `${client.completed} of ${operations} operations completed`;
      progress.report(line, { completed: client.completed, operations });
    },
    stats: () => ({
      completed: client.completed,
      operations,
      pending: client.pending,
      resent: client.resent,
      rejectedReplies: { ...client.rejected },
    }),
    stop: async () => {
      if (!done) finish(false);
    },
  };
}

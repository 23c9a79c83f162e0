/**
 * A chain node's connection to the configuration service, for what the
 * node sends there: accusations with their evidence, one attested message
 * per part, and its replies to probes and challenges. A node accuses a suspect
 * of one kind at most once per epoch (and a counter gap once per counter),
 * so a fault that keeps showing up does not flood the service.
 */

import type { Connection } from '../../api/connection.ts';
import { encodeJson } from '../replication/wire.ts';
import type { AccuseMessage, AccusationKind, NodeToService } from './config_messages.ts';
import { toHex } from './messages.ts';

/** An accusation a node sent to the configuration service. */
export interface SentAccusation {
  suspect: string;
  kind: AccusationKind;
  epoch: number;
}

export interface AccusationFields {
  /** output and equivocation: the seq concerned. */
  seq?: number;
  /** counter-gap: the link session and the missing counter. */
  session?: number;
  counter?: bigint;
}

export class Accuser {
  readonly sent: SentAccusation[] = [];

  #accused = new Set<string>();
  #nextId = 1;

  constructor(readonly connection: Connection) {}

  /** Accuse `suspect` unless this node already did for the same kind and epoch; returns whether it sent. */
  async accuse(
    suspect: string,
    kind: AccusationKind,
    epoch: number,
    fields: AccusationFields,
    messages: readonly Uint8Array[],
  ): Promise<boolean> {
    const key = `${suspect}/${kind}/${epoch}/${fields.counter ?? ''}`;
    if (this.#accused.has(key)) return false;
    this.#accused.add(key);
    this.sent.push({ suspect, kind, epoch });
    return this.send(suspect, kind, epoch, fields, messages);
  }

  /** Send an accusation and its evidence as they are, with no check for repeats; returns false if the connection failed. */
  async send(
    suspect: string,
    kind: AccusationKind,
    epoch: number,
    fields: AccusationFields,
    messages: readonly Uint8Array[],
  ): Promise<boolean> {
    const id = this.#nextId++;
    const { seq, session } = fields;
    const header: AccuseMessage = {
      t: 'accuse',
      id,
      suspect,
      kind,
      epoch,
      seq,
      session,
      counter: fields.counter?.toString(),
      parts: messages.length,
    };
    if (!(await this.sendToService(header))) return false;
    for (const [index, bytes] of messages.entries()) {
      if (!(await this.sendToService({ t: 'evidence', id, index, message: toHex(bytes) }))) return false;
    }
    return true;
  }

  /** Attest and send one message to the service; returns false when the connection failed. */
  async sendToService(message: NodeToService): Promise<boolean> {
    if (this.connection.error) return false;
    try {
      await this.connection.authSend(encodeJson(message));
      return true;
    } catch (error) {
      if (this.connection.error) return false;
      throw error;
    }
  }
}

/**
 * A channel that keeps copies of the last messages it received, so a node
 * can show a message that a Connection holds for a counter gap: the held
 * message proves that its sender attested a later counter. Everything else
 * passes through to the wrapped channel unchanged.
 */

import type { Channel } from '../replication/network.ts';

/** Received messages kept, as many as a Connection holds for one gap by default. */
export const RECORDED_MESSAGES = 64;

export class RecordingChannel implements Channel {
  #recent: Uint8Array[] = [];

  constructor(readonly inner: Channel) {}

  get name(): string {
    return this.inner.name;
  }

  get clock(): Channel['clock'] {
    return this.inner.clock;
  }

  get error(): Channel['error'] {
    return this.inner.error;
  }

  get onReadable(): Channel['onReadable'] {
    return this.inner.onReadable;
  }

  set onReadable(handler: Channel['onReadable']) {
    this.inner.onReadable = handler;
  }

  /** The last RECORDED_MESSAGES messages received, oldest first. */
  get recent(): readonly Uint8Array[] {
    return this.#recent;
  }

  send(bytes: Uint8Array): void {
    this.inner.send(bytes);
  }

  receive(): Uint8Array[] {
    const messages = this.inner.receive();
    this.#recent.push(...messages);
    if (this.#recent.length > RECORDED_MESSAGES) this.#recent.splice(0, this.#recent.length - RECORDED_MESSAGES);
    return messages;
  }
}

/**
 * Runs a node's tasks one at a time, in submission order. A node's handlers
 * share its state machine and its device's send counters, so an attestation
 * and the send that carries it must not interleave with another handler.
 */
export class SerialQueue {
  #tail: Promise<void> = Promise.resolve();

  /** Run `task` after every earlier one settled; the returned promise settles with it. */
  run(task: () => Promise<void>): Promise<void> {
    const next = this.#tail.then(task);
    this.#tail = next.catch(() => undefined);
    return next;
  }
}

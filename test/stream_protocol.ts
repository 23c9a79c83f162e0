/**
 * A small protocol written once against the queue pair API and run by the
 * tests over both transports: the sender streams attested messages, and the
 * receiver acknowledges each delivered message with an attested "ack <text>".
 * Handlers return their promises, so the simulated network awaits them.
 */

import type { QueuePair } from '../api/queue_pair.ts';

export interface StreamRun {
  /** Resolves once every message went to authSend. */
  sending: Promise<void>;
  /** Resolves when the sender has an ack for every message; rejects on the first error. */
  done: Promise<void>;
  /** Texts the receiver delivered, in order. */
  delivered: string[];
  /** Acks the sender delivered, in order. */
  acks: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function startStream(sender: QueuePair, receiver: QueuePair, messages: readonly string[]): StreamRun {
  const delivered: string[] = [];
  const acks: string[] = [];
  let finish!: () => void;
  let fail!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });

  receiver.onReadable = async () => {
    try {
      for (const m of await receiver.poll()) {
        const text = decoder.decode(m.msg);
        delivered.push(text);
        await receiver.authSend(encoder.encode(`ack ${text}`));
      }
    } catch (error) {
      fail(error);
    }
  };
  sender.onReadable = async () => {
    try {
      for (const m of await sender.poll()) acks.push(decoder.decode(m.msg));
      if (acks.length >= messages.length) finish();
    } catch (error) {
      fail(error);
    }
  };

  const sending = (async () => {
    for (const m of messages) await sender.authSend(encoder.encode(m));
  })();
  sending.catch(fail);
  return { sending, done, delivered, acks };
}

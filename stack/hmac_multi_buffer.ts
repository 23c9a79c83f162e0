/**
 * Multi-buffer HMAC-SHA256: queued messages are hashed four at a time by
 * the WebAssembly SIMD kernel of sha256_x4_wasm.ts, one message per 32-bit
 * lane, and a message left over from the groups of four by its scalar
 * function. Each message is MACed as the attestation kernel does,
 * HMAC(key, header || msg) with header = session u32 || device u32 ||
 * counter u64 (big-endian), and the header is written in place in the
 * kernel's memory.
 *
 * Use: setKey once per key slot, then add() messages and finish() to get
 * their tags in the order they were added. Messages are sorted by block
 * count before grouping, so mixed lengths waste little; equal lengths
 * waste nothing except the unused lanes of the last group.
 *
 * The key states H(key ^ ipad) and H(key ^ opad) are kept in the private
 * WebAssembly memory of each instance. No method returns them, and
 * clearKey and clearKeys zero them. The raw key is never stored.
 */

import {
  DESCRIPTOR_BYTES,
  KERNEL_RESERVED_BYTES,
  KEY_STATE_BYTES,
  LANES,
  SCRATCH_TAG_OFFSET,
  hmacKernelModule,
} from './sha256_x4_wasm.ts';
import { deriveHmacStates } from './software_hmac.ts';

const PAGE_BYTES = 65536;
const TAG_BYTES = 32;
const HEADER_BYTES = 16;
const BLOCK_BYTES = 64;
const KEYS_OFFSET = KERNEL_RESERVED_BYTES;
/**
 * Queued input bytes after which the queued messages are hashed early, so
 * the kernel's memory stays near this size (plus one message over it).
 */
const DATA_WINDOW_BYTES = 1 << 20;

export class MultiBufferHmacSha256 {
  readonly #slots: number;
  readonly #capacity: number;
  readonly #memory: WebAssembly.Memory;
  readonly #hmacX4: (desc: number, groups: number) => void;
  readonly #hmacX1: (data: number, blocks: number, key: number, tag: number) => void;
  readonly #hasKey: Uint8Array;
  readonly #descOffset: number;
  readonly #tagsOffset: number;
  readonly #dataOffset: number;
  #bytes: Uint8Array;
  #view: DataView;
  #words: Int32Array;

  // Queued jobs, by index in the order added: input address, block count, key state address.
  readonly #jobData: Int32Array;
  readonly #jobBlocks: Int32Array;
  readonly #jobKey: Int32Array;
  readonly #order: Int32Array;
  #count = 0;
  #hashed = 0;
  #dataEnd: number;
  #minBlocks = Infinity;
  #maxBlocks = 0;

  /** `slots` keys, and at most `capacity` messages between two finish() calls. */
  constructor(slots = 16, capacity = 256) {
    if (!Number.isInteger(slots) || slots < 1 || slots > 4096) {
      throw new RangeError(`slots ${slots} must be an integer in 1..4096`);
    }
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 65536) {
      throw new RangeError(`capacity ${capacity} must be an integer in 1..65536`);
    }
    this.#slots = slots;
    this.#capacity = capacity;
    this.#hasKey = new Uint8Array(slots);
    this.#jobData = new Int32Array(capacity);
    this.#jobBlocks = new Int32Array(capacity);
    this.#jobKey = new Int32Array(capacity);
    this.#order = new Int32Array(capacity);

    this.#descOffset = KEYS_OFFSET + slots * KEY_STATE_BYTES;
    this.#tagsOffset = this.#descOffset + Math.ceil(capacity / LANES) * DESCRIPTOR_BYTES;
    this.#dataOffset = this.#tagsOffset + capacity * TAG_BYTES;
    this.#dataEnd = this.#dataOffset;

    const instance = new WebAssembly.Instance(hmacKernelModule());
    this.#memory = instance.exports.memory as WebAssembly.Memory;
    this.#hmacX4 = instance.exports.hmac_x4 as (desc: number, groups: number) => void;
    this.#hmacX1 = instance.exports.hmac_x1 as (data: number, blocks: number, key: number, tag: number) => void;
    this.#bytes = new Uint8Array(this.#memory.buffer);
    this.#view = new DataView(this.#memory.buffer);
    this.#words = new Int32Array(this.#memory.buffer);
    this.#reserve(this.#dataOffset);
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Messages added since the last finish(). */
  get queued(): number {
    return this.#count;
  }

  /** Load `key` into `slot`, replacing the slot's key. Only with an empty queue, so no queued message changes key. */
  setKey(slot: number, key: Uint8Array): void {
    this.#checkSlot(slot);
    this.#checkEmpty(`setKey(${slot})`);
    const at = (KEYS_OFFSET + slot * KEY_STATE_BYTES) >> 2;
    deriveHmacStates(key, this.#words.subarray(at, at + 8), this.#words.subarray(at + 8, at + 16));
    this.#hasKey[slot] = 1;
  }

  /** Zero the key states of `slot`. Only with an empty queue. */
  clearKey(slot: number): void {
    this.#checkSlot(slot);
    this.#checkEmpty(`clearKey(${slot})`);
    const at = KEYS_OFFSET + slot * KEY_STATE_BYTES;
    this.#bytes.fill(0, at, at + KEY_STATE_BYTES);
    this.#hasKey[slot] = 0;
  }

  /** Zero every key state and drop the queued messages. */
  clearKeys(): void {
    this.#bytes.fill(0, KEYS_OFFSET, KEYS_OFFSET + this.#slots * KEY_STATE_BYTES);
    this.#hasKey.fill(0);
    this.#count = 0;
    this.#hashed = 0;
    this.#dataEnd = this.#dataOffset;
    this.#minBlocks = Infinity;
    this.#maxBlocks = 0;
  }

  hasKey(slot: number): boolean {
    return this.#hasKey[slot] === 1;
  }

  /**
   * Queue HMAC(key[slot], header || msg) with the header built from
   * `session`, `device` and the counter as two u32 halves. `msg` is copied,
   * so the caller may reuse it at once.
   */
  add(slot: number, session: number, device: number, counterHigh: number, counterLow: number, msg: Uint8Array): void {
    if (this.#hasKey[slot] !== 1) {
      this.#checkSlot(slot);
      throw new Error(`key slot ${slot} has no key; call setKey(${slot}, key) first`);
    }
    if (this.#count === this.#capacity) {
      throw new RangeError(`the queue is full (capacity ${this.#capacity} messages); call finish() first`);
    }
    if ((session >>> 0) !== session || (device >>> 0) !== device) {
      throw new RangeError(`session ${session} and device ${device} must be unsigned 32-bit integers`);
    }
    if ((counterHigh >>> 0) !== counterHigh || (counterLow >>> 0) !== counterLow) {
      throw new RangeError(`counter halves ${counterHigh} and ${counterLow} must be unsigned 32-bit integers`);
    }

    const length = msg.length;
    const blocks = ((HEADER_BYTES + length + 8) >>> 6) + 1;
    const size = blocks * BLOCK_BYTES;
    if (this.#dataEnd + size > this.#dataOffset + DATA_WINDOW_BYTES && this.#count > this.#hashed) {
      this.#hashQueued();
    }
    this.#reserve(this.#dataEnd + size);

    const at = this.#dataEnd;
    const view = this.#view;
    const bytes = this.#bytes;
    view.setUint32(at, session);
    view.setUint32(at + 4, device);
    view.setUint32(at + 8, counterHigh);
    view.setUint32(at + 12, counterLow);
    bytes.set(msg, at + HEADER_BYTES);
    bytes[at + HEADER_BYTES + length] = 0x80;
    this.#zero(at + HEADER_BYTES + length + 1, at + size - 8);
    const bits = (BLOCK_BYTES + HEADER_BYTES + length) * 8;
    view.setUint32(at + size - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(at + size - 4, bits >>> 0);

    const job = this.#count;
    this.#jobData[job] = at;
    this.#jobBlocks[job] = blocks;
    this.#jobKey[job] = KEYS_OFFSET + slot * KEY_STATE_BYTES;
    if (blocks < this.#minBlocks) this.#minBlocks = blocks;
    if (blocks > this.#maxBlocks) this.#maxBlocks = blocks;
    this.#count = job + 1;
    this.#dataEnd = at + size;
  }

  /**
   * Hash every queued message and write tag i (of the i-th message added)
   * to out[offset + 32 * i ..]. Returns the number of tags and empties the queue.
   */
  finish(out: Uint8Array, offset = 0): number {
    const count = this.#count;
    if (out.length - offset < count * TAG_BYTES) {
      throw new RangeError(
        `output of ${out.length} bytes from offset ${offset} cannot hold ${count} tags of ${TAG_BYTES} bytes`,
      );
    }
    this.#hashQueued();
    out.set(this.#bytes.subarray(this.#tagsOffset, this.#tagsOffset + count * TAG_BYTES), offset);
    this.#count = 0;
    this.#hashed = 0;
    return count;
  }

  /**
   * Attest `msgs` in order with consecutive counters from `firstCounter`:
   * tag i is HMAC(key[slot], session || device || firstCounter + i || msgs[i]),
   * written to out[32 * i ..]. Runs in batches of the capacity. The queue
   * must be empty.
   */
  macConsecutive(
    slot: number,
    session: number,
    device: number,
    firstCounter: bigint,
    msgs: readonly Uint8Array[],
    out: Uint8Array,
  ): void {
    this.#checkEmpty('macConsecutive');
    if (firstCounter < 0n || firstCounter + BigInt(msgs.length) > 1n << 64n) {
      throw new RangeError(`counters ${firstCounter}..${firstCounter}+${msgs.length} do not fit in 64 bits`);
    }
    let high = Number(firstCounter >> 32n);
    let low = Number(firstCounter & 0xffffffffn);
    let done = 0;
    for (let i = 0; i < msgs.length; i++) {
      if (this.#count === this.#capacity) done += this.finish(out, done * TAG_BYTES);
      this.add(slot, session, device, high, low, msgs[i]!);
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.finish(out, done * TAG_BYTES);
  }

  /** Run the kernel on the jobs queued since the last run; their tags go to the tags area. */
  #hashQueued(): void {
    const from = this.#hashed;
    const n = this.#count - from;
    if (n === 0) return;

    // Sort by block count, largest first, so the lanes of a group have (nearly) equal counts.
    const order = this.#order.subarray(0, n);
    for (let i = 0; i < n; i++) order[i] = from + i;
    if (this.#minBlocks !== this.#maxBlocks) {
      const blocks = this.#jobBlocks;
      order.sort((x, y) => blocks[y]! - blocks[x]! || x - y);
    }

    // A last group of one message runs on the scalar function, because it costs about half
    // of four lanes for one message (Node 20, AMD EPYC Zen 4). Two or more share hmac_x4.
    let groups = Math.ceil(n / LANES);
    if (n % LANES === 1) {
      const job = order[n - 1]!;
      this.#hmacX1(this.#jobData[job]!, this.#jobBlocks[job]!, this.#jobKey[job]!, this.#tagsOffset + job * TAG_BYTES);
      groups -= 1;
    }

    const words = this.#words;
    for (let g = 0; g < groups; g++) {
      const desc = (this.#descOffset + g * DESCRIPTOR_BYTES) >> 2;
      for (let l = 0; l < LANES; l++) {
        const i = LANES * g + l;
        // An unused lane repeats lane 0 of its group and writes to the scratch tag.
        const job = i < n ? order[i]! : order[LANES * g]!;
        words[desc + l] = this.#jobData[job]!;
        words[desc + 4 + l] = this.#jobBlocks[job]!;
        words[desc + 8 + l] = this.#jobKey[job]!;
        words[desc + 12 + l] = i < n ? this.#tagsOffset + job * TAG_BYTES : SCRATCH_TAG_OFFSET;
      }
    }
    if (groups > 0) this.#hmacX4(this.#descOffset, groups);

    this.#hashed = this.#count;
    this.#dataEnd = this.#dataOffset;
    this.#minBlocks = Infinity;
    this.#maxBlocks = 0;
  }

  /**
   * Zero bytes [from, end) of the memory with word stores, `end` a multiple
   * of 4. For the few dozen padding bytes of a short message this is cheaper
   * than Uint8Array.fill (18 ns against 30 ns for 39 bytes, Node 20).
   */
  #zero(from: number, end: number): void {
    const bytes = this.#bytes;
    const words = this.#words;
    let at = from;
    while ((at & 3) !== 0 && at < end) bytes[at++] = 0;
    for (; at < end; at += 4) words[at >> 2] = 0;
  }

  /** Grow the memory to at least `bytes`; views are rebuilt because growing detaches the old buffer. */
  #reserve(bytes: number): void {
    const have = this.#bytes.length;
    if (bytes <= have) return;
    this.#memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    this.#bytes = new Uint8Array(this.#memory.buffer);
    this.#view = new DataView(this.#memory.buffer);
    this.#words = new Int32Array(this.#memory.buffer);
  }

  #checkEmpty(operation: string): void {
    if (this.#count !== 0) {
      throw new Error(`${operation} with ${this.#count} messages queued; call finish() first`);
    }
  }

  #checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.#slots) {
      throw new RangeError(`key slot ${slot} is outside 0..${this.#slots - 1}`);
    }
  }
}

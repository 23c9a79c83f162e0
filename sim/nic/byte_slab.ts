/**
 * Zero-filled byte arrays carved out of shared 64 KiB ArrayBuffers, for the
 * frames and attested messages the simulator makes per packet. V8 gives a
 * typed array of more than 64 bytes its own off-heap backing store. On
 * Node 20 that measured about ten times the cost of a view into an existing
 * buffer. A slab is never reused, so every view starts zeroed, and the
 * garbage collector frees a slab once no view into it is left.
 *
 * Callers that wrap `.buffer` in a DataView must pass `byteOffset` and
 * `byteLength`, because the buffer is shared.
 */

const SLAB_BYTES = 1 << 16;
/** Larger arrays get a buffer of their own, so that one of them cannot waste most of a slab. */
const MAX_SLAB_ALLOCATION = SLAB_BYTES / 8;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** Allocate a zero-filled array of `length` bytes. */
export function allocateBytes(length: number): Uint8Array {
  if (length > MAX_SLAB_ALLOCATION) return new Uint8Array(length);
  if (used + length > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const bytes = new Uint8Array(slab, used, length);
  // Keep every view 8-byte aligned.
  used += (length + 7) & ~7;
  return bytes;
}

/**
 * Classic libpcap capture files (not pcapng), little-endian, nanosecond
 * timestamps (magic 0xA1B23C4D), link type 1 (Ethernet without FCS).
 * Virtual time 0 of the simulation is the Unix epoch in the file.
 */

const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 65535;
const GLOBAL_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

export class PcapWriter {
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #records = 0;

  constructor() {
    const header = new Uint8Array(GLOBAL_HEADER_BYTES);
    const view = new DataView(header.buffer);
    view.setUint32(0, PCAP_MAGIC_NANOSECONDS, true);
    view.setUint16(4, 2, true); // version 2.4
    view.setUint16(6, 4, true);
    view.setInt32(8, 0, true); // GMT offset
    view.setUint32(12, 0, true); // timestamp accuracy
    view.setUint32(16, SNAPLEN, true);
    view.setUint32(20, LINKTYPE_ETHERNET, true);
    this.#push(header);
  }

  get records(): number {
    return this.#records;
  }

  /** Append one frame seen at virtual time `timeNs`; frames over the snap length are truncated. */
  add(timeNs: number, frame: Uint8Array): void {
    const ns = Math.max(0, Math.round(timeNs));
    const captured = Math.min(frame.length, SNAPLEN);
    const record = new Uint8Array(RECORD_HEADER_BYTES + captured);
    const view = new DataView(record.buffer);
    view.setUint32(0, Math.floor(ns / 1e9), true);
    view.setUint32(4, ns % 1e9, true);
    view.setUint32(8, captured, true);
    view.setUint32(12, frame.length, true);
    record.set(frame.subarray(0, captured), RECORD_HEADER_BYTES);
    this.#push(record);
    this.#records++;
  }

  /** Return the whole file written so far. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#bytes);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  #push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }
}

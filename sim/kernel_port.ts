/**
 * The command interface of the attestation kernel, shared by the TypeScript
 * model (sim/tnic_kernel.ts) and the Verilator RTL (verify/rtl_bridge.ts).
 * Codes match hw/tnic_defs.vh.
 */

export const OP_CODES = {
  'load-key': 0,
  attest: 1,
  verify: 2,
  check: 3,
  'set-id': 4,
  lock: 5,
} as const;

export const STATUS_NAMES = [
  'ok',
  'bad-tag',
  'replayed', // counter below recv_cnt
  'gap', // counter above recv_cnt
  'unknown-session', // session out of range or without a key
  'overflow', // the counter would wrap past 2^64 - 1
  'rejected', // provisioning after lock, or a second key for a session
  'bad-op',
] as const;

export type KernelStatus = (typeof STATUS_NAMES)[number];

/** Largest message or key the kernel takes: cmd_len is 16 bits wide. */
export const MAX_INPUT_BYTES = 65535;

/** Sessions in the keystore and counters store (tnic_kernel N_SESSIONS). */
export const N_SESSIONS = 16;

export const TAG_BYTES = 32;
export const COUNTER_MAX = (1n << 64n) - 1n;

export type KernelRequest =
  | { op: 'load-key'; session: number; key: Uint8Array }
  | { op: 'set-id'; device: number }
  | { op: 'lock' }
  | { op: 'attest'; session: number; msg: Uint8Array }
  | {
      op: 'verify' | 'check';
      session: number;
      device: number;
      counter: bigint;
      tag: Uint8Array;
      msg: Uint8Array;
    };

export interface KernelResult {
  status: KernelStatus;
  /** ATTEST: alpha. All zero for every other operation. */
  tag: Uint8Array;
  /** ATTEST: counter used. VERIFY: recv_cnt expected. CHECK: counter checked. */
  counter: bigint;
  /** Clock cycles from command accepted to result valid, without input stalls. */
  cycles: number;
}

/** A kernel backend: requests run in order, one result per request. */
export interface AttestationKernel {
  /**
   * model: cycle model; rtl: Verilator; reference: transaction-level model; icarus: cocotb;
   * ssl-lib, ssl-server, sgx, sev: CPU baselines (stack/baselines/).
   */
  readonly backend: 'model' | 'rtl' | 'reference' | 'icarus' | 'ssl-lib' | 'ssl-server' | 'sgx' | 'sev';
  run(requests: readonly KernelRequest[]): Promise<KernelResult[]>;
  /** Pulse the reset input: keys, counters, device id and lock are cleared. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

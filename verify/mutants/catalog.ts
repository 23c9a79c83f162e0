/**
 * The seeded bugs of the mutation kill table. The first five break a
 * security property of the kernel on both the TypeScript reference model
 * (sim/tnic_kernel.ts) and the Verilog (hw/). The last two are quieter
 * slips: a verifier that MACs its own device id in place of the sender's,
 * and an off-by-one in the SHA-256 padding length of the RTL engine.
 *
 * Every substitution quotes the current source line exactly, so editing
 * that line makes applyMutant throw until the mutant is updated.
 */

import { InputError } from '../../sim/errors.ts';
import type { Mutant, MutantTarget } from './mutant.ts';

const MODEL_FILE = 'sim/tnic_kernel.ts';
const KERNEL_V = 'hw/tnic_kernel.v';
const ENGINE_V = 'hw/tnic_engine.v';

export const MUTANTS: readonly Mutant[] = [
  // VERIFY accepts any counter when the tag matches.
  {
    name: 'drop-counter-check',
    target: 'model',
    file: MODEL_FILE,
    description: 'VERIFY accepts any counter when the tag matches',
    substitutions: [
      {
        find: "    else if (counter < recv_cnt) status = 'replayed';\n    else if (counter > recv_cnt) status = 'gap';\n",
        replace: '',
      },
    ],
  },
  {
    name: 'drop-counter-check',
    target: 'rtl',
    file: KERNEL_V,
    description: 'VERIFY accepts any counter when the tag matches',
    substitutions: [
      {
        // Conditions forced false, not deleted: -Wall rejects ST_REPLAYED and ST_GAP left unused.
        find:
          '            else if (r_counter < r_recv)  r_status = ST_REPLAYED;\n' +
          '            else if (r_counter > r_recv)  r_status = ST_GAP;\n',
        replace:
          "            else if (1'b0)                r_status = ST_REPLAYED;\n" +
          "            else if (1'b0)                r_status = ST_GAP;\n",
      },
    ],
  },

  // recv_cnt advances on every VERIFY of a known session, as in the published prototype.
  {
    name: 'advance-on-failed-verify',
    target: 'model',
    file: MODEL_FILE,
    description: 'recv_cnt advances also when VERIFY rejects the message',
    substitutions: [
      {
        find: "    if (status === 'ok') this.#recv_cnt_mem[session] = recv_cnt + 1n;",
        replace: '    this.#recv_cnt_mem[session] = recv_cnt + 1n;',
      },
    ],
  },
  {
    name: 'advance-on-failed-verify',
    target: 'rtl',
    file: KERNEL_V,
    description: 'recv_cnt advances also when VERIFY rejects the message',
    substitutions: [
      {
        // r_pre is the dispatch status: ST_OK for every VERIFY of a session with a key.
        find: "if (r_op == OP_VERIFY && r_status == ST_OK) recv_we = 1'b1;",
        replace: "if (r_op == OP_VERIFY && r_pre == ST_OK) recv_we = 1'b1;",
      },
    ],
  },

  // The MAC input carries session 0 in place of the session id.
  {
    name: 'no-session-in-mac',
    target: 'model',
    file: MODEL_FILE,
    description: 'the session id is left out of the MAC input (header word 0 is zero)',
    substitutions: [
      {
        find: '    data.set(encodeHeader(session, device, counter));',
        replace: '    data.set(encodeHeader(0, device, counter));',
      },
    ],
  },
  {
    name: 'no-session-in-mac',
    target: 'rtl',
    file: KERNEL_V,
    description: 'the session id is left out of the MAC input (header word 0 is zero)',
    substitutions: [
      {
        find: 'assign start_header = {cmd_session, (cmd_attest ? device_id_reg : cmd_device), hdr_counter};',
        replace: "assign start_header = {32'd0, (cmd_attest ? device_id_reg : cmd_device), hdr_counter};",
      },
    ],
  },

  // Only the first 16 bytes (upper 128 bits) of the tag are compared.
  {
    name: 'tag-prefix-compare',
    target: 'model',
    file: MODEL_FILE,
    description: 'only the first 16 bytes of the tag are compared',
    substitutions: [
      {
        find: '    const tagOk = equalBytes(this.#mac(session, device, counter, msg), tag);',
        replace:
          '    const tagOk = equalBytes(this.#mac(session, device, counter, msg).subarray(0, 16), tag.subarray(0, 16));',
      },
    ],
  },
  {
    name: 'tag-prefix-compare',
    target: 'rtl',
    file: KERNEL_V,
    description: 'only the first 16 bytes of the tag are compared',
    substitutions: [
      {
        find: 'wire             r_tag_ok   = (eng_tag[head] == slot_tag_mem[head]);',
        replace: 'wire             r_tag_ok   = (eng_tag[head][255:128] == slot_tag_mem[head][255:128]);',
      },
    ],
  },

  // LOAD_KEY still works after LOCK ended the bootstrap.
  {
    name: 'load-key-after-lock',
    target: 'model',
    file: MODEL_FILE,
    description: 'LOAD_KEY is accepted after LOCK',
    substitutions: [
      {
        find: '    if (this.#locked_reg || session >= N_SESSIONS || this.#key_valid_reg[session]) {',
        replace: '    if (session >= N_SESSIONS || this.#key_valid_reg[session]) {',
      },
    ],
  },
  {
    name: 'load-key-after-lock',
    target: 'rtl',
    file: KERNEL_V,
    description: 'LOAD_KEY is accepted after LOCK',
    substitutions: [
      {
        find: 'wire             key_ok      = !locked_reg && ser_sess_ok && !key_valid_reg[ser_sess];',
        replace: 'wire             key_ok      = ser_sess_ok && !key_valid_reg[ser_sess];',
      },
    ],
  },

  // VERIFY and CHECK MAC the receiver's own device id, not the sender's from the header.
  {
    name: 'verify-uses-own-device-id',
    target: 'model',
    file: MODEL_FILE,
    description: "VERIFY and CHECK put the receiver's device id in the MAC input, not the sender's",
    substitutions: [
      {
        find: '    const tagOk = equalBytes(this.#mac(session, device, counter, msg), tag);',
        replace: '    const tagOk = equalBytes(this.#mac(session, this.#device_id_reg, counter, msg), tag);',
      },
    ],
  },
  {
    name: 'verify-uses-own-device-id',
    target: 'rtl',
    file: KERNEL_V,
    description: "VERIFY and CHECK put the receiver's device id in the MAC input, not the sender's",
    substitutions: [
      {
        find: '(cmd_attest ? device_id_reg : cmd_device)',
        replace: 'device_id_reg',
      },
    ],
  },

  // The inner hash counts 87 bytes of overhead in place of 88, so a message of
  // 40 mod 64 bytes gets one block too few and loses its 0x80 padding byte.
  {
    name: 'inner-pad-off-by-one',
    target: 'rtl',
    file: ENGINE_V,
    description: 'the engine rounds the inner block count with 87 in place of 88 bytes',
    substitutions: [
      {
        find: 'localparam [LEN_W+3:0] INNER_PAD = 88;',
        replace: 'localparam [LEN_W+3:0] INNER_PAD = 87;',
      },
    ],
  },
];

/** Look up a mutant by name and target. Throws an InputError that lists the known names when none matches. */
export function findMutant(name: string, target: MutantTarget): Mutant {
  const mutant = MUTANTS.find((m) => m.name === name && m.target === target);
  if (!mutant) {
    const known = MUTANTS.filter((m) => m.target === target).map((m) => m.name);
    throw new InputError(`no ${target} mutant is named '${name}'; known: ${known.join(', ')}`);
  }
  return mutant;
}

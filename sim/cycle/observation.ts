/**
 * What lockstep co-simulation compares each cycle: the interface signals
 * and named internal state of the kernel, packed into 32-bit words in the
 * order and layout of observe() in verify/harness/tnic_harness.cpp and the
 * obs_* ports of hw/tnic_kernel.v. Change them together.
 */

import type { KernelInputs, TnicKernelCycle } from './tnic_kernel.ts';

/** Names of the observed words, for mismatch reports; engine words follow as eng<g>.<field>. */
export const OBS_NAMES = [
  'cmd_valid', 'cmd_ready', 'in_valid', 'in_ready', 'in_data (its 32-bit words XORed)', 'res_valid', 'res_ready', 'res_status',
  'res_counter[63:32]', 'res_counter[31:0]',
  'res_tag[255:224]', 'res_tag[223:192]', 'res_tag[191:160]', 'res_tag[159:128]',
  'res_tag[127:96]', 'res_tag[95:64]', 'res_tag[63:32]', 'res_tag[31:0]',
  'obs_frontend{fe_state,ku_state,ku_pass,ord_count,ord_head,ord_tail,fe_engine}',
  'obs_frontend.fe_words_left',
];

export function observationName(index: number): string {
  if (index < OBS_NAMES.length) return OBS_NAMES[index]!;
  const e = index - OBS_NAMES.length;
  const field = ['{eng_state,bypass,pref_valid,core_state,core_round,blk}', 'wr_count', 'rd_count'][e % 3];
  return `g_engine[${Math.floor(e / 3)}].${field}`;
}

/**
 * Observed words of the current cycle, after the inputs are applied and
 * before the edge. in_data is folded into one word, so the layout is the
 * same for every DATA_W.
 */
export function observe(k: TnicKernelCycle, i: KernelInputs, out: number[]): number[] {
  let inData = 0;
  for (const w of i.in_data) inData ^= w;
  out.length = 0;
  out.push(
    +i.cmd_valid, +k.cmd_ready, +i.in_valid, +k.in_ready, inData >>> 0,
    +k.res_valid_reg, +i.res_ready, k.res_status_reg,
    Number(k.res_counter_reg >> 32n), Number(k.res_counter_reg & 0xffffffffn),
  );
  for (let w = 0; w < 8; w++) out.push(k.res_tag_reg[w]!);

  const ku = k.u_key_unit;
  const front =
    (k.fe_state_reg << 29) |
    (ku.ku_state_reg << 27) |
    (ku.pass_reg << 25) |
    (k.ord_count_reg << 18) |
    (k.ord_head_reg << 12) |
    (k.ord_tail_reg << 6) |
    k.fe_engine_reg;
  out.push(front >>> 0, k.fe_words_left_reg);

  for (const e of k.g_engine) {
    const word =
      (e.eng_state_reg << 30) |
      (+e.bypass_reg << 29) |
      (+e.pref_valid_reg << 28) |
      (e.u_core.core_state_reg << 26) |
      (e.u_core.t_reg << 20) |
      (e.blk_reg & 0xfffff);
    out.push(word >>> 0, e.wr_count_reg, e.rd_count_reg);
  }
  return out;
}

/** 32-bit FNV-1a over words, as the harness folds them. */
export function foldWords(hash: number, words: readonly number[]): number {
  let h = hash;
  for (const w of words) h = Math.imul(h ^ w, 16777619) >>> 0;
  return h;
}

export const FNV_OFFSET = 2166136261;

// Reachability checks for the proof flow, included after
// tnic_kernel_props.vh. Each assertion here is false on purpose, and
// run_proofs.sh expects a counterexample for it. A proof of one of them
// would mean that the assumptions or the model build cut off the
// behaviour that the real properties talk about, so their proofs would be
// vacuous.

`ifdef FORMAL

    always @(*) begin
        if (rst_n) begin
            // A result comes out.
            reach_result: assert (!res_valid_reg);
            // A key loads, then an ATTEST and a VERIFY on session 0 are
            // accepted, so both counters of session 0 reach 1.
            reach_counters_step: assert (!(key_valid_reg[0] && send_cnt_mem[0] == 64'd1 &&
                                           recv_cnt_mem[0] == 64'd1));
            // Both engines are busy at once.
            reach_two_engines_busy: assert (eng_idle != 0);
        end
    end

`endif

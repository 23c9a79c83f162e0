// Safety properties of tnic_kernel, to be included at the end of a copy of
// the kernel's module body, so every name below is a kernel signal. Each
// assertion has a label, written as a comment inside generate loops, where
// Yosys 0.23 rejects repeated labels. Yosys gives a commented assertion
// a source location that starts at the end of the previous statement, so match
// properties by the line where the assertion ends.
//
// "Accepted" means: an ATTEST is accepted when it is dispatched with status
// ok (its counter is reserved then), a VERIFY when it retires with status ok.
// Properties named inv_* are helper invariants, meant to make the others
// provable by induction.
// run_proofs.sh checks each one with yosys-abc pdr, or bmc3 up to a bound
// where pdr does not finish. A proof covers only the small configuration of
// tnic_kernel_formal_top.v with the abstract engine and key unit.

`ifdef FORMAL

    reg f_past_valid = 1'b0;
    reg f_past_rst_n = 1'b0;
    always @(posedge clk) begin
        f_past_valid <= 1'b1;
        f_past_rst_n <= rst_n;
    end

    // This cycle and the one before ran out of reset.
    wire f_run = f_past_valid && f_past_rst_n && rst_n;

    wire f_attest_accept = dispatch && cmd_attest && (cmd_status == ST_OK);
    wire f_verify_accept = retire && (r_op == OP_VERIFY) && (r_status == ST_OK);
    wire f_tag_accept    = retire && (r_op == OP_VERIFY || r_op == OP_CHECK) && (r_status == ST_OK);

    //----------------------------------------------------------------
    // Per session: counters step by exactly one per accepted operation
    // and never decrease; keys load before lock and only once.
    //----------------------------------------------------------------
    genvar f_s;
    generate
        for (f_s = 0; f_s < N_SESSIONS; f_s = f_s + 1) begin : g_f_session
            wire [63:0]  send_cnt = send_cnt_mem[f_s];
            wire [63:0]  recv_cnt = recv_cnt_mem[f_s];
            wire         key_valid = key_valid_reg[f_s];
            wire [255:0] istate   = istate_mem[f_s];
            wire [255:0] ostate   = ostate_mem[f_s];
            wire [63:0]  send_step = (f_attest_accept && cmd_sess == f_s) ? 64'd1 : 64'd0;
            wire [63:0]  recv_step = (f_verify_accept && r_sess == f_s) ? 64'd1 : 64'd0;

            // LOAD_KEY zeroes both counters of its session, whatever they held:
            // the counter memories have no reset.
            wire         key_load = (fe_state_reg == FE_KEY) && ku_done && (ser_sess == f_s);

            always @(posedge clk) begin
                if (f_run) begin
                    if ($past(key_load))
                        /* key_load_zeroes_counters */ assert (send_cnt == 64'd0 && recv_cnt == 64'd0);
                    else begin
                        /* send_cnt_step */ assert (send_cnt == $past(send_cnt) + $past(send_step));
                        /* recv_cnt_step */ assert (recv_cnt == $past(recv_cnt) + $past(recv_step));
                    end
                    if ($past(key_valid)) begin
                        /* send_cnt_monotonic */ assert (send_cnt >= $past(send_cnt));
                        /* recv_cnt_monotonic */ assert (recv_cnt >= $past(recv_cnt));
                    end
                    if (key_valid && !$past(key_valid))
                        /* key_load_before_lock */ assert (!$past(locked_reg));
                    if ($past(key_valid))
                        /* key_write_once */ assert (key_valid && istate == $past(istate) &&
                                                ostate == $past(ostate));
                end
            end
        end
    endgenerate

    //----------------------------------------------------------------
    // Per command, at dispatch and at retire.
    //----------------------------------------------------------------
    always @(*) begin
        if (rst_n && dispatch) begin
            // The MAC input starts with session || device || counter.
            mac_header_spec: assert (start_header ==
                {cmd_session, (cmd_attest ? device_id_reg : cmd_device),
                 (cmd_attest ? send_cnt_cmd : cmd_counter)});
            attest_needs_key: assert (!f_attest_accept || cmd_has_key);
        end
        if (rst_n && retire) begin
            tag_only_for_keyed_attest: assert (!(r_op == OP_ATTEST && r_status == ST_OK) ||
                                               key_valid_reg[r_sess]);
            verify_counter_is_recv_cnt: assert (!f_verify_accept || r_counter == r_recv);
            verify_tag_full_match: assert (!f_tag_accept || eng_tag[head] == slot_tag_mem[head]);
            verify_needs_key: assert (!f_tag_accept || key_valid_reg[r_sess]);
        end
        if (rst_n && ku_start)
            key_unit_only_before_lock: assert (!locked_reg);
        // An output tag comes only with an ok status.
        if (rst_n && res_valid_reg && res_tag_reg != 256'd0)
            res_tag_only_when_ok: assert (res_status_reg == ST_OK);
    end

    // A rejected VERIFY leaves recv_cnt alone (also implied by recv_cnt_step).
    always @(posedge clk) begin
        if (f_run && $past(retire && r_op == OP_VERIFY && r_status != ST_OK))
            reject_keeps_recv_cnt: assert (recv_cnt_mem[$past(r_sess)] == $past(r_recv));
    end

    //----------------------------------------------------------------
    // Result channel: once valid, res_* stay put until res_ready.
    //----------------------------------------------------------------
    always @(posedge clk) begin
        if (f_run && $past(res_valid_reg && !res_ready)) begin
            res_valid_held: assert (res_valid_reg);
            res_data_stable: assert (res_status_reg == $past(res_status_reg) &&
                                     res_tag_reg == $past(res_tag_reg) &&
                                     res_counter_reg == $past(res_counter_reg));
        end
    end

    //----------------------------------------------------------------
    // Helper invariants for k-induction.
    //----------------------------------------------------------------
    always @(*) begin
        if (rst_n && f_past_valid) begin
            inv_fe_state_range: assert (fe_state_reg <= FE_DRAIN);
            if (fe_state_reg == FE_KEY || fe_state_reg == FE_DRAIN)
                inv_serial_pipe_empty: assert (ord_count_reg == 0 && !res_valid_reg);
            if (fe_state_reg == FE_KEY)
                inv_key_load_allowed: assert (!locked_reg && ser_sess_ok && !key_valid_reg[ser_sess]);
            if (fe_state_reg == FE_KEY)
                inv_key_op: assert (ser_op_reg == OP_LOAD_KEY);
        end
    end

    genvar f_g;
    generate
        for (f_g = 0; f_g < N_ENGINES; f_g = f_g + 1) begin : g_f_engine
            always @(*) begin
                if (rst_n && f_past_valid && !eng_idle[f_g] &&
                    slot_op_mem[f_g] == OP_ATTEST && slot_status_mem[f_g] == ST_OK)
                    /* inv_busy_attest_has_key */ assert (key_valid_reg[slot_sess_mem[f_g]]);
            end
        end
    endgenerate

`endif

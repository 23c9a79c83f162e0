// TNIC attestation kernel: HMAC-SHA256 over a 16-byte header and the
// message, a keystore of precomputed HMAC states, per-session send and
// receive counters, and the device id register.
//
// Attested message: alpha || header || msg, where
//   header = session u32 || device u32 || counter u64 (big-endian) and
//   alpha  = HMAC-SHA256(key[session], header || msg).
//
// Commands are accepted on cmd_valid && cmd_ready; the cmd_len bytes of each
// follow on the input stream as ceil(cmd_len / (DATA_W / 8)) big-endian
// beats of DATA_W bits, the first byte in in_data[DATA_W-1:DATA_W-8] (bytes
// past cmd_len are ignored). Every command consumes its declared
// bytes, also when it is rejected, so the stream stays aligned. Results come
// out in command order, one per command, each held until res_ready.
//
// ATTEST, VERIFY and CHECK run on N_ENGINES MAC engines at once: the front
// end hands each message to a free engine and streams its beats into the
// engine's buffer, then takes the next command. ATTEST reserves its counter
// at dispatch; VERIFY compares its counter with recv_cnt when it retires, in
// order, so the outcome equals that of running the commands one by one.
// LOAD_KEY, SET_ID and LOCK wait until every earlier result is taken.
//
// Latency of an isolated ATTEST, VERIFY or CHECK of len bytes, from the edge
// that accepts the command to the edge that raises res_valid, without
// stalls: 65 * (floor((len + 88) / 64) + 1) + 1 cycles (196 for 64 bytes).

`default_nettype none

module tnic_kernel #(
    parameter integer N_SESSIONS = 16,  // keystore and counter slots
    parameter integer N_ENGINES  = 12,  // MAC engines working on different messages
    parameter integer LEN_W      = 16,  // width of cmd_len: messages up to 2^LEN_W - 1 bytes
    parameter integer BUF_AW     = 11,  // per-engine message buffer of 2^BUF_AW 32-bit words
    parameter integer DATA_W     = 32   // input stream width in bits: 32, 64 or 128
) (
    input  wire             clk,
    input  wire             rst_n,

    // command channel
    input  wire             cmd_valid,
    output wire             cmd_ready,
    input  wire [2:0]       cmd_op,
    input  wire [31:0]      cmd_session,
    input  wire [LEN_W-1:0] cmd_len,        // bytes on the input stream
    input  wire [31:0]      cmd_device,     // VERIFY/CHECK: sender's id; SET_ID: new id
    input  wire [63:0]      cmd_counter,    // VERIFY/CHECK: counter in the header
    input  wire [255:0]     cmd_tag,        // VERIFY/CHECK: alpha to check

    // input stream: message or key bytes
    input  wire              in_valid,
    output wire              in_ready,
    input  wire [DATA_W-1:0] in_data,

    // result channel
    output wire             res_valid,
    input  wire             res_ready,
    output wire [2:0]       res_status,
    output wire [255:0]     res_tag,        // ATTEST: alpha; zero for every other op
    output wire [63:0]      res_counter,    // ATTEST: counter used; VERIFY: recv_cnt expected

    // status
    output wire [31:0]      device_id,
    output wire             locked,

    // observation for lockstep co-simulation, compared with the cycle model:
    // front end {state word, fe_words_left}, then 3 words per engine
    output wire [63:0]            obs_frontend,
    output wire [96*N_ENGINES-1:0] obs_engines
);

    `include "tnic_defs.vh"

    //----------------------------------------------------------------
    // Parameter checks: elaboration stops with the reason. Icarus 11 has no
    // elaboration-time $error, so there the check instantiates a module
    // that does not exist and whose name is the message.
    //----------------------------------------------------------------
    generate
        if (N_SESSIONS < 1 || N_SESSIONS > 65536) begin : g_bad_sessions
`ifdef VERILATOR
            $error("tnic_kernel: N_SESSIONS must be 1..65536");
`else
            tnic_kernel_error_N_SESSIONS_must_be_1_to_65536 u_error ();
`endif
        end
        if (N_ENGINES < 1 || N_ENGINES > 64) begin : g_bad_engines
`ifdef VERILATOR
            $error("tnic_kernel: N_ENGINES must be 1..64");
`else
            tnic_kernel_error_N_ENGINES_must_be_1_to_64 u_error ();
`endif
        end
        if (LEN_W < 8 || LEN_W > 20) begin : g_bad_len
`ifdef VERILATOR
            $error("tnic_kernel: LEN_W must be 8..20 (messages up to 1 MiB)");
`else
            tnic_kernel_error_LEN_W_must_be_8_to_20 u_error ();
`endif
        end
        if (BUF_AW < 4 || BUF_AW > LEN_W - 2) begin : g_bad_buf
`ifdef VERILATOR
            $error("tnic_kernel: BUF_AW must be 4..LEN_W-2 (16 words up to the longest message)");
`else
            tnic_kernel_error_BUF_AW_must_be_4_to_LEN_W_minus_2 u_error ();
`endif
        end
        if (DATA_W != 32 && DATA_W != 64 && DATA_W != 128) begin : g_bad_data_w
`ifdef VERILATOR
            $error("tnic_kernel: DATA_W must be 32, 64 or 128 (input stream width in bits)");
`else
            tnic_kernel_error_DATA_W_must_be_32_64_or_128 u_error ();
`endif
        end
    endgenerate

    localparam integer SESS_W = (N_SESSIONS > 1) ? $clog2(N_SESSIONS) : 1;
    localparam integer ENG_W  = (N_ENGINES > 1) ? $clog2(N_ENGINES) : 1;
    // Bytes per beat of the input stream: 2^BEAT_SHIFT.
    localparam integer BEAT_SHIFT = (DATA_W == 128) ? 4 : (DATA_W == 64) ? 3 : 2;
    localparam [LEN_W-1:0] BEAT_MASK = (1 << BEAT_SHIFT) - 1;

    localparam [2:0] FE_IDLE   = 3'd0;
    localparam [2:0] FE_DATA   = 3'd1;  // stream message beats into engine fe_engine_reg
    localparam [2:0] FE_SERIAL = 3'd2;  // LOAD_KEY/SET_ID/LOCK: wait for earlier results
    localparam [2:0] FE_KEY    = 3'd3;  // stream a key into the key unit, wait for it
    localparam [2:0] FE_DRAIN  = 3'd4;  // consume the input of SET_ID, LOCK or a rejection

    localparam [63:0] CNT_MAX = {64{1'b1}};
    localparam [31:0]      LAST_SLOT32 = N_ENGINES - 1;
    localparam [ENG_W-1:0] LAST_SLOT   = LAST_SLOT32[ENG_W-1:0];

    //----------------------------------------------------------------
    // Keystore and counters store. The raw key is never stored: only the
    // HMAC inner and outer states computed by the key unit. Only
    // key_valid_reg is reset; the memories have no reset, so they map to
    // RAM, and a session's counters are zeroed when its key is loaded.
    // Nothing reads a session's entries before its key is loaded.
    //----------------------------------------------------------------
    reg [N_SESSIONS-1:0] key_valid_reg;
    reg [255:0]          istate_mem   [0:N_SESSIONS-1];
    reg [255:0]          ostate_mem   [0:N_SESSIONS-1];
    reg [63:0]           send_cnt_mem [0:N_SESSIONS-1];
    reg [63:0]           recv_cnt_mem [0:N_SESSIONS-1];
    reg [31:0]           device_id_reg;
    reg                  locked_reg;

    //----------------------------------------------------------------
    // Front end, per-engine command slots, order queue, result register.
    //----------------------------------------------------------------
    reg [2:0]        fe_state_reg;
    reg [ENG_W-1:0]  fe_engine_reg;
    reg [LEN_W-1:0]  fe_words_left_reg;    // input beats still to come
    reg [2:0]        ser_op_reg;
    reg [31:0]       ser_session_reg;
    reg [LEN_W-1:0]  ser_len_reg;
    reg [31:0]       ser_device_reg;
    reg [2:0]        ser_status_reg;

    // What each engine is working on, written at dispatch, read at retire.
    // No reset, so they map to LUT RAM: a slot is read only while its
    // engine is busy, and it is written when the engine starts.
    reg [2:0]        slot_op_mem      [0:N_ENGINES-1];
    reg [SESS_W-1:0] slot_sess_mem    [0:N_ENGINES-1];
    reg [2:0]        slot_status_mem  [0:N_ENGINES-1];  // ST_OK, or why it was bypassed
    reg [63:0]       slot_counter_mem [0:N_ENGINES-1];
    reg [255:0]      slot_tag_mem     [0:N_ENGINES-1];  // VERIFY/CHECK: expected alpha

    // Engines in dispatch order; results retire from the head.
    reg [ENG_W-1:0]  ord_mem [0:N_ENGINES-1];
    reg [ENG_W-1:0]  ord_head_reg;
    reg [ENG_W-1:0]  ord_tail_reg;
    reg [ENG_W:0]    ord_count_reg;

    reg              res_valid_reg;
    reg [2:0]        res_status_reg;
    reg [255:0]      res_tag_reg;
    reg [63:0]       res_counter_reg;

    //----------------------------------------------------------------
    // Engines.
    //----------------------------------------------------------------
    wire [N_ENGINES-1:0] eng_start;
    wire [N_ENGINES-1:0] eng_wr_valid;
    wire [N_ENGINES-1:0] eng_wr_ready;
    wire [N_ENGINES-1:0] eng_idle;
    wire [N_ENGINES-1:0] eng_done;
    wire [N_ENGINES-1:0] eng_release;
    wire [255:0]         eng_tag [0:N_ENGINES-1];

    wire             start_bypass;
    wire [127:0]     start_header;
    wire [SESS_W-1:0] cmd_sess = cmd_session[SESS_W-1:0];

    genvar g;
    generate
        for (g = 0; g < N_ENGINES; g = g + 1) begin : g_engine
            tnic_engine #(.LEN_W(LEN_W), .BUF_AW(BUF_AW), .DATA_W(DATA_W)) u_engine (
                .clk            (clk),
                .rst_n          (rst_n),
                .start          (eng_start[g]),
                .start_bypass   (start_bypass),
                .start_len      (cmd_len),
                .start_header   (start_header),
                .start_istate   (istate_mem[cmd_sess]),
                .start_ostate   (ostate_mem[cmd_sess]),
                .wr_valid       (eng_wr_valid[g]),
                .wr_data        (in_data),
                .wr_ready       (eng_wr_ready[g]),
                .idle           (eng_idle[g]),
                .done           (eng_done[g]),
                .tag            (eng_tag[g]),
                .release_engine (eng_release[g]),
                .obs            (obs_engines[96*g +: 96])
            );
        end
    endgenerate

    // Lowest-numbered idle engine.
    reg [ENG_W-1:0] free_idx;
    reg             any_free;
    integer e;
    always @(*) begin
        free_idx = {ENG_W{1'b0}};
        any_free = 1'b0;
        for (e = N_ENGINES - 1; e >= 0; e = e - 1) begin
            if (eng_idle[e]) begin
                free_idx = e[ENG_W-1:0];
                any_free = 1'b1;
            end
        end
    end

    //----------------------------------------------------------------
    // Dispatch.
    //----------------------------------------------------------------
    wire             cmd_fire    = cmd_valid && cmd_ready;
    wire             cmd_is_mac  = (cmd_op == OP_ATTEST) || (cmd_op == OP_VERIFY) || (cmd_op == OP_CHECK);
    wire             cmd_sess_ok = (cmd_session < N_SESSIONS);
    wire             cmd_has_key = cmd_sess_ok && key_valid_reg[cmd_sess];
    wire [63:0]      send_cnt_cmd = send_cnt_mem[cmd_sess];
    wire             cmd_attest  = (cmd_op == OP_ATTEST);
    wire             cmd_overflow = cmd_attest && (send_cnt_cmd == CNT_MAX);
    wire [LEN_W-1:0] cmd_beats   = (cmd_len >> BEAT_SHIFT) + {{(LEN_W-1){1'b0}}, ((cmd_len & BEAT_MASK) != 0)};
    wire [2:0]       cmd_status  = !cmd_has_key ? ST_UNKNOWN_SESSION :
                                   cmd_overflow  ? ST_OVERFLOW : ST_OK;
    wire [63:0]      hdr_counter = cmd_attest ? send_cnt_cmd : cmd_counter;
    wire             dispatch    = cmd_fire && cmd_is_mac;

    assign start_bypass = (cmd_status != ST_OK);
    assign start_header = {cmd_session, (cmd_attest ? device_id_reg : cmd_device), hdr_counter};

    generate
        for (g = 0; g < N_ENGINES; g = g + 1) begin : g_engine_ctl
            assign eng_start[g]    = dispatch && (free_idx == g);
            assign eng_wr_valid[g] = in_valid && (fe_state_reg == FE_DATA) && (fe_engine_reg == g);
        end
    endgenerate

    //----------------------------------------------------------------
    // Retire: the oldest engine's result moves to the result register.
    //----------------------------------------------------------------
    wire [ENG_W-1:0] head       = ord_mem[ord_head_reg];
    wire             head_done  = (ord_count_reg != 0) && eng_done[head];
    wire             res_free   = !res_valid_reg || res_ready;
    wire             retire     = head_done && res_free;

    wire [2:0]       r_op       = slot_op_mem[head];
    wire [SESS_W-1:0] r_sess    = slot_sess_mem[head];
    wire [2:0]       r_pre      = slot_status_mem[head];
    wire [63:0]      r_counter  = slot_counter_mem[head];
    wire [63:0]      r_recv     = recv_cnt_mem[r_sess];
    wire             r_tag_ok   = (eng_tag[head] == slot_tag_mem[head]);

    reg [2:0]  r_status;
    reg [63:0] r_res_counter;
    always @(*) begin
        r_status      = r_pre;
        r_res_counter = r_counter;
        if (r_pre == ST_UNKNOWN_SESSION) begin
            r_res_counter = 64'd0;
        end else if (r_op == OP_VERIFY) begin
            r_res_counter = r_recv;
            if (!r_tag_ok)                r_status = ST_BAD_TAG;
            else if (r_counter < r_recv)  r_status = ST_REPLAYED;
            else if (r_counter > r_recv)  r_status = ST_GAP;
            else if (r_counter == CNT_MAX) r_status = ST_OVERFLOW;
            else                          r_status = ST_OK;
        end else if (r_op == OP_CHECK) begin
            r_status = r_tag_ok ? ST_OK : ST_BAD_TAG;
        end
    end

    generate
        for (g = 0; g < N_ENGINES; g = g + 1) begin : g_release
            assign eng_release[g] = retire && (head == g);
        end
    endgenerate

    //----------------------------------------------------------------
    // Key unit (LOAD_KEY).
    //----------------------------------------------------------------
    wire         ku_start;
    wire         ku_in_ready;
    wire         ku_done;
    wire [255:0] ku_istate;
    wire [255:0] ku_ostate;
    wire [3:0]   ku_obs;

    tnic_key_unit #(.LEN_W(LEN_W), .DATA_W(DATA_W)) u_key_unit (
        .clk       (clk),
        .rst_n     (rst_n),
        .start     (ku_start),
        .start_len (ser_len_reg),
        .in_valid  (in_valid && fe_state_reg == FE_KEY),
        .in_data   (in_data),
        .in_ready  (ku_in_ready),
        .done      (ku_done),
        .istate    (ku_istate),
        .ostate    (ku_ostate),
        .obs       (ku_obs)
    );

    wire             ser_sess_ok = (ser_session_reg < N_SESSIONS);
    wire [SESS_W-1:0] ser_sess   = ser_session_reg[SESS_W-1:0];
    wire             pipe_empty  = (ord_count_reg == 0) && !res_valid_reg;
    wire             ser_go      = (fe_state_reg == FE_SERIAL) && pipe_empty;
    wire             key_ok      = !locked_reg && ser_sess_ok && !key_valid_reg[ser_sess];
    assign ku_start = ser_go && (ser_op_reg == OP_LOAD_KEY) && key_ok;

    //----------------------------------------------------------------
    // State update.
    //----------------------------------------------------------------
    wire in_fire = in_valid && in_ready;
    wire push    = dispatch;
    wire pop     = retire;

    // recv_cnt_mem has a single write port, so it maps to LUT RAM: LOAD_KEY
    // zeroes a session's counter, and an accepted VERIFY advances it when it
    // retires. The two never meet, because LOAD_KEY runs only while no
    // command is in flight.
    reg              recv_we;
    reg [SESS_W-1:0] recv_waddr;
    reg [63:0]       recv_wdata;
    always @(*) begin
        recv_we    = 1'b0;
        recv_waddr = r_sess;
        recv_wdata = r_recv + 64'd1;
        if (fe_state_reg == FE_KEY && ku_done) begin
            recv_we    = 1'b1;
            recv_waddr = ser_sess;
            recv_wdata = 64'd0;
        end else if (retire) begin
            if (r_op == OP_VERIFY && r_status == ST_OK) recv_we = 1'b1;
        end
    end

    always @(posedge clk) begin
        if (recv_we) recv_cnt_mem[recv_waddr] <= recv_wdata;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            key_valid_reg <= {N_SESSIONS{1'b0}};
            device_id_reg     <= 32'd0;
            locked_reg        <= 1'b0;
            fe_state_reg      <= FE_IDLE;
            fe_engine_reg     <= {ENG_W{1'b0}};
            fe_words_left_reg <= {LEN_W{1'b0}};
            ser_op_reg        <= OP_LOAD_KEY;
            ser_session_reg   <= 32'd0;
            ser_len_reg       <= {LEN_W{1'b0}};
            ser_device_reg    <= 32'd0;
            ser_status_reg    <= ST_OK;
            ord_head_reg      <= {ENG_W{1'b0}};
            ord_tail_reg      <= {ENG_W{1'b0}};
            ord_count_reg     <= {(ENG_W+1){1'b0}};
            res_valid_reg     <= 1'b0;
            res_status_reg    <= ST_OK;
            res_tag_reg       <= 256'd0;
            res_counter_reg   <= 64'd0;
        end else begin
            // Order queue.
            if (push) begin
                ord_mem[ord_tail_reg] <= free_idx;
                ord_tail_reg <= (ord_tail_reg == LAST_SLOT) ? {ENG_W{1'b0}} : ord_tail_reg + 1'b1;
            end
            if (pop) begin
                ord_head_reg <= (ord_head_reg == LAST_SLOT) ? {ENG_W{1'b0}} : ord_head_reg + 1'b1;
            end
            if (push && !pop)      ord_count_reg <= ord_count_reg + 1'b1;
            else if (pop && !push) ord_count_reg <= ord_count_reg - 1'b1;

            // Result register: a retiring engine, or the end of a serial command.
            if (retire) begin
                res_valid_reg   <= 1'b1;
                res_status_reg  <= r_status;
                res_tag_reg     <= (r_op == OP_ATTEST && r_status == ST_OK) ? eng_tag[head] : 256'd0;
                res_counter_reg <= r_res_counter;
            end else if (res_valid_reg && res_ready) begin
                res_valid_reg <= 1'b0;
            end

            case (fe_state_reg)
                FE_IDLE: if (cmd_fire) begin
                    fe_words_left_reg <= cmd_beats;
                    if (cmd_is_mac) begin
                        slot_op_mem[free_idx]      <= cmd_op;
                        slot_sess_mem[free_idx]    <= cmd_sess;
                        slot_status_mem[free_idx]  <= cmd_status;
                        slot_counter_mem[free_idx] <= hdr_counter;
                        slot_tag_mem[free_idx]     <= cmd_tag;
                        if (cmd_attest && cmd_status == ST_OK)
                            send_cnt_mem[cmd_sess] <= send_cnt_cmd + 64'd1;
                        fe_engine_reg <= free_idx;
                        fe_state_reg  <= (cmd_beats != 0) ? FE_DATA : FE_IDLE;
                    end else begin
                        ser_op_reg      <= cmd_op;
                        ser_session_reg <= cmd_session;
                        ser_len_reg     <= cmd_len;
                        ser_device_reg  <= cmd_device;
                        fe_state_reg    <= FE_SERIAL;
                    end
                end

                FE_DATA: if (in_fire) begin
                    fe_words_left_reg <= fe_words_left_reg - 1'b1;
                    if (fe_words_left_reg == 1) fe_state_reg <= FE_IDLE;
                end

                FE_SERIAL: if (ser_go) begin
                    if (ku_start) begin
                        fe_state_reg <= FE_KEY;
                    end else begin
                        fe_state_reg <= FE_DRAIN;
                        case (ser_op_reg)
                            OP_LOAD_KEY: ser_status_reg <= ST_REJECTED;
                            OP_SET_ID:
                                if (locked_reg) begin
                                    ser_status_reg <= ST_REJECTED;
                                end else begin
                                    device_id_reg  <= ser_device_reg;
                                    ser_status_reg <= ST_OK;
                                end
                            OP_LOCK: begin
                                locked_reg     <= 1'b1;
                                ser_status_reg <= ST_OK;
                            end
                            default: ser_status_reg <= ST_BAD_OP;
                        endcase
                    end
                end

                FE_KEY: begin
                    if (ku_done) begin
                        istate_mem[ser_sess]    <= ku_istate;
                        ostate_mem[ser_sess]    <= ku_ostate;
                        send_cnt_mem[ser_sess]  <= 64'd0;
                        key_valid_reg[ser_sess] <= 1'b1;
                        res_valid_reg           <= 1'b1;
                        res_status_reg          <= ST_OK;
                        res_tag_reg             <= 256'd0;
                        res_counter_reg         <= 64'd0;
                        fe_state_reg            <= FE_IDLE;
                    end
                end

                default:  // FE_DRAIN
                    if (fe_words_left_reg == 0) begin
                        res_valid_reg   <= 1'b1;
                        res_status_reg  <= ser_status_reg;
                        res_tag_reg     <= 256'd0;
                        res_counter_reg <= 64'd0;
                        fe_state_reg    <= FE_IDLE;
                    end else if (in_valid) begin
                        fe_words_left_reg <= fe_words_left_reg - 1'b1;
                    end
            endcase
        end
    end

    //----------------------------------------------------------------
    // Outputs.
    //----------------------------------------------------------------
    assign cmd_ready   = (fe_state_reg == FE_IDLE) && any_free;
    assign in_ready    = ((fe_state_reg == FE_DATA) && eng_wr_ready[fe_engine_reg]) ||
                         ((fe_state_reg == FE_KEY) && ku_in_ready) ||
                         ((fe_state_reg == FE_DRAIN) && fe_words_left_reg != 0);
    assign res_valid   = res_valid_reg;
    assign res_status  = res_status_reg;
    assign res_tag     = res_tag_reg;
    assign res_counter = res_counter_reg;
    assign device_id   = device_id_reg;
    assign locked      = locked_reg;

    // {fe_state 3, ku_state 2, ku_pass 2, ord_count 7, ord_head 6, ord_tail 6, fe_engine 6}
    assign obs_frontend = {fe_state_reg, ku_obs,
                           {(6-ENG_W){1'b0}}, ord_count_reg,
                           {(6-ENG_W){1'b0}}, ord_head_reg,
                           {(6-ENG_W){1'b0}}, ord_tail_reg,
                           {(6-ENG_W){1'b0}}, fe_engine_reg,
                           {(32-LEN_W){1'b0}}, fe_words_left_reg};

endmodule

`default_nettype wire

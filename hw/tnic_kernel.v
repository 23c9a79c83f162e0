// TNIC attestation kernel: HMAC-SHA256 over a 16-byte header and the
// message, a keystore of precomputed HMAC states, per-session send and
// receive counters, and the device id register.
//
// Attested message: alpha || header || msg, where
//   header = session u32 || device u32 || counter u64 (big-endian) and
//   alpha  = HMAC-SHA256(key[session], header || msg).
//
// One command at a time: a command is accepted on cmd_valid && cmd_ready,
// its cmd_len bytes arrive on the input stream as ceil(cmd_len / 4)
// big-endian 32-bit words (bytes past cmd_len are ignored), and one result
// is presented until res_ready. Every command consumes its declared bytes,
// also when it is rejected, so the stream stays aligned.
//
// Latency in cycles, from the edge that accepts the command to the edge
// that raises res_valid, with no stalls on the input stream
// (nw = ceil(len / 4); every SHA-256 block costs 65 cycles):
//   ATTEST, VERIFY, CHECK    65 * (floor((len + 88) / 64) + 1) + 1
//   LOAD_KEY, len <= 64      nw + 132
//   LOAD_KEY, len > 64       65 * (floor((len + 72) / 64) + 2) + 1
//   rejected or SET_ID/LOCK  nw + 1

`default_nettype none

module tnic_kernel #(
    parameter integer N_SESSIONS = 16,  // keystore and counter slots
    parameter integer LEN_W      = 16   // width of cmd_len: messages up to 2^LEN_W - 1 bytes
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
    input  wire             in_valid,
    output wire             in_ready,
    input  wire [31:0]      in_data,

    // result channel
    output wire             res_valid,
    input  wire             res_ready,
    output wire [2:0]       res_status,
    output wire [255:0]     res_tag,        // ATTEST: alpha; zero for every other op
    output wire [63:0]      res_counter,    // ATTEST: counter used; VERIFY: recv_cnt expected

    // status
    output wire [31:0]      device_id,
    output wire             locked
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
        if (LEN_W < 8 || LEN_W > 20) begin : g_bad_len
`ifdef VERILATOR
            $error("tnic_kernel: LEN_W must be 8..20 (messages up to 1 MiB)");
`else
            tnic_kernel_error_LEN_W_must_be_8_to_20 u_error ();
`endif
        end
    endgenerate

    localparam integer SESS_W = (N_SESSIONS > 1) ? $clog2(N_SESSIONS) : 1;

    localparam [255:0] SHA256_IV = {
        32'h6a09e667, 32'hbb67ae85, 32'h3c6ef372, 32'ha54ff53a,
        32'h510e527f, 32'h9b05688c, 32'h1f83d9ab, 32'h5be0cd19
    };

    localparam [2:0] CTRL_IDLE    = 3'd0;
    localparam [2:0] CTRL_DRAIN   = 3'd1;  // consume the input of a rejected or trivial op
    localparam [2:0] CTRL_KEYFILL = 3'd2;  // read a key of at most 64 bytes into keybuf
    localparam [2:0] CTRL_HASH    = 3'd3;  // run the passes below on the SHA-256 core
    localparam [2:0] CTRL_RESULT  = 3'd4;

    // Hash passes: each is one or more SHA-256 blocks on the core.
    localparam [2:0] PASS_KEYHASH = 3'd0;  // SHA-256(key) for a key longer than 64 bytes
    localparam [2:0] PASS_IPAD    = 3'd1;  // istate = compress(IV, K0 ^ ipad)
    localparam [2:0] PASS_OPAD    = 3'd2;  // ostate = compress(IV, K0 ^ opad)
    localparam [2:0] PASS_INNER   = 3'd3;  // from istate over header || msg
    localparam [2:0] PASS_OUTER   = 3'd4;  // from ostate over the inner digest

    localparam [63:0] CNT_MAX = {64{1'b1}};

    //----------------------------------------------------------------
    // Keystore and counters store. The raw key is never stored: only the
    // HMAC inner and outer states computed at LOAD_KEY.
    //----------------------------------------------------------------
    reg [N_SESSIONS-1:0] key_valid_reg;
    reg [255:0]          istate_mem   [0:N_SESSIONS-1];
    reg [255:0]          ostate_mem   [0:N_SESSIONS-1];
    reg [63:0]           send_cnt_mem [0:N_SESSIONS-1];
    reg [63:0]           recv_cnt_mem [0:N_SESSIONS-1];
    reg [31:0]           device_id_reg;
    reg                  locked_reg;

    //----------------------------------------------------------------
    // Command registers and controller state.
    //----------------------------------------------------------------
    reg [2:0]       ctrl_state_reg;
    reg [2:0]       op_reg;
    reg [SESS_W-1:0] sess_reg;
    reg [LEN_W-1:0] len_reg;
    reg [31:0]      dev_reg;
    reg [63:0]      cnt_reg;
    reg [255:0]     tag_reg;
    reg [2:0]       drain_status_reg;
    reg [LEN_W-1:0] words_left_reg;        // DRAIN and KEYFILL
    reg [3:0]       keyfill_idx_reg;
    reg [2:0]       pass_reg;              // pass of the block on the core
    reg [LEN_W-3:0] blk_reg;               // block index within the pass
    reg [511:0]     keybuf_reg;            // K0: the key, or SHA-256(key), zero-padded
    reg [255:0]     istate_tmp_reg;
    reg [255:0]     inner_digest_reg;

    reg             res_valid_reg;
    reg [2:0]       res_status_reg;
    reg [255:0]     res_tag_reg;
    reg [63:0]      res_counter_reg;

    //----------------------------------------------------------------
    // Command decode (combinational, on the command inputs).
    //----------------------------------------------------------------
    wire             cmd_fire    = cmd_valid && cmd_ready;
    wire             cmd_sess_ok = (cmd_session < N_SESSIONS);
    wire [SESS_W-1:0] cmd_sess   = cmd_session[SESS_W-1:0];
    wire             cmd_has_key = cmd_sess_ok && key_valid_reg[cmd_sess];
    wire [LEN_W-1:0] cmd_words   = (cmd_len >> 2) + {{(LEN_W-1){1'b0}}, (cmd_len[1:0] != 2'd0)};

    //----------------------------------------------------------------
    // SHA-256 core and the word generator that feeds it.
    //----------------------------------------------------------------
    wire         core_start;
    wire [255:0] core_state_in;
    wire         core_w_valid;
    wire [31:0]  core_w_data;
    wire         core_w_ready;
    wire [5:0]   core_round;
    wire         core_idle;
    wire         core_digest_valid;
    wire [255:0] core_digest;

    tnic_sha256_core u_core (
        .clk          (clk),
        .rst_n        (rst_n),
        .start        (core_start),
        .state_in     (core_state_in),
        .w_valid      (core_w_valid),
        .w_data       (core_w_data),
        .w_ready      (core_w_ready),
        .round        (core_round),
        .idle         (core_idle),
        .digest_valid (core_digest_valid),
        .digest       (core_digest)
    );

    // Blocks per pass. KEYHASH hashes len bytes, INNER hashes 16 + len
    // bytes; padding adds 0x80 and a 64-bit length, so ceil((n + 9) / 64).
    localparam [LEN_W+3:0] KEYHASH_PAD = 72;  // 9 bytes of padding + 63 to round up
    localparam [LEN_W+3:0] INNER_PAD   = 88;  // 16 header bytes + 72
    // The low 6 bits of `padded` are the remainder of the division by 64.
    /* verilator lint_off UNUSEDSIGNAL */
    function [LEN_W-3:0] pass_blocks(input [2:0] pass, input [LEN_W-1:0] len);
        reg [LEN_W+3:0] padded;
        begin
            case (pass)
                PASS_KEYHASH: padded = {4'd0, len} + KEYHASH_PAD;
                PASS_INNER:   padded = {4'd0, len} + INNER_PAD;
                default:      padded = 64;
            endcase
            pass_blocks = padded[LEN_W+3:6];
        end
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    wire [LEN_W-3:0] cur_blocks = pass_blocks(pass_reg, len_reg);
    wire             last_blk   = (blk_reg + 1'b1 == cur_blocks);

    // Position of the current word in the padded stream of this pass.
    wire [31:0] word_idx  = {{(30-LEN_W){1'b0}}, blk_reg, 4'd0} + {26'd0, core_round};
    wire [31:0] byte_off  = {word_idx[29:0], 2'b00};
    wire [31:0] last_word = {{(30-LEN_W){1'b0}}, cur_blocks, 4'd0};
    wire [31:0] len32     = {{(32-LEN_W){1'b0}}, len_reg};
    wire        is_inner  = (pass_reg == PASS_INNER);
    // Bytes hashed after the key block (KEYHASH: the key, INNER: header || msg).
    wire [31:0] total     = is_inner ? len32 + 32'd16 : len32;
    // Message length in bits for the padding: INNER also counts the ipad block.
    wire [63:0] len_bits  = {29'd0, (is_inner ? total + 32'd64 : total), 3'b000};

    // Header fields: ATTEST uses this device and send_cnt, VERIFY and CHECK
    // the values the sender put in the header.
    wire [63:0] send_cnt_cur = send_cnt_mem[sess_reg];
    wire [63:0] recv_cnt_cur = recv_cnt_mem[sess_reg];
    wire [31:0] hdr_device   = (op_reg == OP_ATTEST) ? device_id_reg : dev_reg;
    wire [63:0] hdr_counter  = (op_reg == OP_ATTEST) ? send_cnt_cur : cnt_reg;
    wire [31:0] sess32       = {{(32-SESS_W){1'b0}}, sess_reg};

    reg [31:0] stream_word;
    reg        stream_is_data;
    integer    j;
    always @(*) begin
        stream_is_data = 1'b0;
        if (is_inner && word_idx < 32'd4) begin
            case (word_idx[1:0])
                2'd0:    stream_word = sess32;
                2'd1:    stream_word = hdr_device;
                2'd2:    stream_word = hdr_counter[63:32];
                default: stream_word = hdr_counter[31:0];
            endcase
        end else if (byte_off < total) begin
            // Data word: keep bytes before `total`, put 0x80 right after the last.
            stream_is_data = 1'b1;
            for (j = 0; j < 4; j = j + 1) begin
                if (byte_off + j < total)
                    stream_word[31-8*j -: 8] = in_data[31-8*j -: 8];
                else if (byte_off + j == total)
                    stream_word[31-8*j -: 8] = 8'h80;
                else
                    stream_word[31-8*j -: 8] = 8'h00;
            end
        end else if (word_idx == last_word - 32'd2) begin
            stream_word = len_bits[63:32];
        end else if (word_idx == last_word - 32'd1) begin
            stream_word = len_bits[31:0];
        end else if (byte_off == total) begin
            stream_word = 32'h80000000;
        end else begin
            stream_word = 32'h00000000;
        end
    end

    // Word t of the fixed single-block passes.
    wire [31:0] keybuf_word = keybuf_reg[511 - 32*core_round[3:0] -: 32];
    reg  [31:0] fixed_word;
    always @(*) begin
        case (pass_reg)
            PASS_IPAD: fixed_word = keybuf_word ^ 32'h36363636;
            PASS_OPAD: fixed_word = keybuf_word ^ 32'h5c5c5c5c;
            default: begin
                // PASS_OUTER: inner digest, 0x80, zeros, length 768 bits (64 + 32 bytes).
                if (core_round < 6'd8)
                    fixed_word = inner_digest_reg[255 - 32*core_round[2:0] -: 32];
                else if (core_round == 6'd8)
                    fixed_word = 32'h80000000;
                else if (core_round == 6'd15)
                    fixed_word = 32'd768;
                else
                    fixed_word = 32'd0;
            end
        endcase
    end

    wire streamed = (pass_reg == PASS_KEYHASH) || is_inner;
    wire in_hash  = (ctrl_state_reg == CTRL_HASH);
    wire want_data = in_hash && streamed && stream_is_data;
    assign core_w_data  = streamed ? stream_word : fixed_word;
    assign core_w_valid = !want_data || in_valid;

    //----------------------------------------------------------------
    // Block sequencing: launch the first block on entry to CTRL_HASH, and
    // on each finished block either launch the next one or finish.
    //----------------------------------------------------------------
    wire [2:0] final_pass = (op_reg == OP_LOAD_KEY) ? PASS_OPAD : PASS_OUTER;
    wire       first_launch = in_hash && core_idle;
    wire       blk_done  = in_hash && core_digest_valid;
    wire       all_done  = blk_done && last_blk && (pass_reg == final_pass);
    assign core_start    = first_launch || (blk_done && !all_done);

    reg [2:0]       launch_pass;
    reg [LEN_W-3:0] launch_blk;
    always @(*) begin
        launch_pass = pass_reg;
        launch_blk  = blk_reg;
        if (blk_done) begin
            if (!last_blk) begin
                launch_blk = blk_reg + 1'b1;
            end else begin
                launch_blk = 0;
                case (pass_reg)
                    PASS_KEYHASH: launch_pass = PASS_IPAD;
                    PASS_IPAD:    launch_pass = PASS_OPAD;
                    default:      launch_pass = PASS_OUTER;  // after PASS_INNER
                endcase
            end
        end
    end

    assign core_state_in =
        (launch_blk != 0)             ? core_digest :
        (launch_pass == PASS_INNER)   ? istate_mem[sess_reg] :
        (launch_pass == PASS_OUTER)   ? ostate_mem[sess_reg] :
                                        SHA256_IV;

    //----------------------------------------------------------------
    // Result of ATTEST, VERIFY and CHECK once the outer hash is done.
    //----------------------------------------------------------------
    wire tag_ok = (core_digest == tag_reg);
    reg [2:0]  fin_status;
    always @(*) begin
        case (op_reg)
            OP_ATTEST:
                fin_status = (send_cnt_cur == CNT_MAX) ? ST_OVERFLOW : ST_OK;
            OP_VERIFY:
                if (!tag_ok)                     fin_status = ST_BAD_TAG;
                else if (cnt_reg < recv_cnt_cur) fin_status = ST_REPLAYED;
                else if (cnt_reg > recv_cnt_cur) fin_status = ST_GAP;
                else if (cnt_reg == CNT_MAX)     fin_status = ST_OVERFLOW;
                else                             fin_status = ST_OK;
            OP_CHECK:
                fin_status = tag_ok ? ST_OK : ST_BAD_TAG;
            default:
                fin_status = ST_OK;              // OP_LOAD_KEY
        endcase
    end

    //----------------------------------------------------------------
    // Controller.
    //----------------------------------------------------------------
    wire [31:0] masked_in_data;
    wire [31:0] keyfill_off = {26'd0, keyfill_idx_reg, 2'b00};
    genvar b;
    generate
        for (b = 0; b < 4; b = b + 1) begin : g_key_mask
            // Keep byte b of the word only if it lies before len_reg.
            assign masked_in_data[31-8*b -: 8] =
                (keyfill_off + b < len32) ?
                in_data[31-8*b -: 8] : 8'h00;
        end
    endgenerate

    integer s;
    always @(posedge clk) begin
        if (!rst_n) begin
            key_valid_reg    <= {N_SESSIONS{1'b0}};
            for (s = 0; s < N_SESSIONS; s = s + 1) begin
                istate_mem[s]   <= 256'd0;
                ostate_mem[s]   <= 256'd0;
                send_cnt_mem[s] <= 64'd0;
                recv_cnt_mem[s] <= 64'd0;
            end
            device_id_reg    <= 32'd0;
            locked_reg       <= 1'b0;
            ctrl_state_reg   <= CTRL_IDLE;
            op_reg           <= OP_LOAD_KEY;
            sess_reg         <= {SESS_W{1'b0}};
            len_reg          <= {LEN_W{1'b0}};
            dev_reg          <= 32'd0;
            cnt_reg          <= 64'd0;
            tag_reg          <= 256'd0;
            drain_status_reg <= ST_OK;
            words_left_reg   <= {LEN_W{1'b0}};
            keyfill_idx_reg  <= 4'd0;
            pass_reg         <= PASS_INNER;
            blk_reg          <= 0;
            keybuf_reg       <= 512'd0;
            istate_tmp_reg   <= 256'd0;
            inner_digest_reg <= 256'd0;
            res_valid_reg    <= 1'b0;
            res_status_reg   <= ST_OK;
            res_tag_reg      <= 256'd0;
            res_counter_reg  <= 64'd0;
        end else begin
            case (ctrl_state_reg)
                CTRL_IDLE: if (cmd_fire) begin
                    op_reg          <= cmd_op;
                    sess_reg        <= cmd_sess;
                    len_reg         <= cmd_len;
                    dev_reg         <= cmd_device;
                    cnt_reg         <= cmd_counter;
                    tag_reg         <= cmd_tag;
                    words_left_reg  <= cmd_words;
                    keyfill_idx_reg <= 4'd0;
                    blk_reg         <= 0;
                    ctrl_state_reg  <= CTRL_DRAIN;
                    case (cmd_op)
                        OP_LOAD_KEY:
                            if (locked_reg || !cmd_sess_ok || key_valid_reg[cmd_sess]) begin
                                drain_status_reg <= ST_REJECTED;
                            end else if (cmd_len > 64) begin
                                pass_reg       <= PASS_KEYHASH;
                                ctrl_state_reg <= CTRL_HASH;
                            end else begin
                                keybuf_reg     <= 512'd0;
                                ctrl_state_reg <= CTRL_KEYFILL;
                            end
                        OP_ATTEST, OP_VERIFY, OP_CHECK:
                            if (!cmd_has_key) begin
                                drain_status_reg <= ST_UNKNOWN_SESSION;
                            end else begin
                                pass_reg       <= PASS_INNER;
                                ctrl_state_reg <= CTRL_HASH;
                            end
                        OP_SET_ID:
                            if (locked_reg) begin
                                drain_status_reg <= ST_REJECTED;
                            end else begin
                                device_id_reg    <= cmd_device;
                                drain_status_reg <= ST_OK;
                            end
                        OP_LOCK: begin
                            locked_reg       <= 1'b1;
                            drain_status_reg <= ST_OK;
                        end
                        default:
                            drain_status_reg <= ST_BAD_OP;
                    endcase
                end

                CTRL_DRAIN:
                    if (words_left_reg == 0) begin
                        res_valid_reg   <= 1'b1;
                        res_status_reg  <= drain_status_reg;
                        res_tag_reg     <= 256'd0;
                        res_counter_reg <= 64'd0;
                        ctrl_state_reg  <= CTRL_RESULT;
                    end else if (in_valid) begin
                        words_left_reg <= words_left_reg - 1'b1;
                    end

                CTRL_KEYFILL:
                    if (words_left_reg == 0) begin
                        pass_reg       <= PASS_IPAD;
                        ctrl_state_reg <= CTRL_HASH;
                    end else if (in_valid) begin
                        keybuf_reg[511 - 32*keyfill_idx_reg -: 32] <= masked_in_data;
                        keyfill_idx_reg <= keyfill_idx_reg + 4'd1;
                        words_left_reg  <= words_left_reg - 1'b1;
                    end

                CTRL_HASH:
                    if (all_done) begin
                        res_valid_reg  <= 1'b1;
                        res_status_reg <= fin_status;
                        res_tag_reg    <= 256'd0;
                        ctrl_state_reg <= CTRL_RESULT;
                        case (op_reg)
                            OP_LOAD_KEY: begin
                                istate_mem[sess_reg]    <= istate_tmp_reg;
                                ostate_mem[sess_reg]    <= core_digest;
                                key_valid_reg[sess_reg] <= 1'b1;
                                res_counter_reg         <= 64'd0;
                            end
                            OP_ATTEST: begin
                                res_counter_reg <= send_cnt_cur;
                                if (fin_status == ST_OK) begin
                                    res_tag_reg            <= core_digest;
                                    send_cnt_mem[sess_reg] <= send_cnt_cur + 64'd1;
                                end
                            end
                            OP_VERIFY: begin
                                res_counter_reg <= recv_cnt_cur;
                                if (fin_status == ST_OK)
                                    recv_cnt_mem[sess_reg] <= recv_cnt_cur + 64'd1;
                            end
                            default:
                                res_counter_reg <= cnt_reg;  // OP_CHECK
                        endcase
                    end else if (core_start) begin
                        pass_reg <= launch_pass;
                        blk_reg  <= launch_blk;
                        // Keep what the next pass needs from the finished one.
                        if (blk_done && last_blk) begin
                            case (pass_reg)
                                PASS_KEYHASH: keybuf_reg       <= {core_digest, 256'd0};
                                PASS_IPAD:    istate_tmp_reg   <= core_digest;
                                default:      inner_digest_reg <= core_digest;
                            endcase
                        end
                    end

                default:  // CTRL_RESULT
                    if (res_ready) begin
                        res_valid_reg  <= 1'b0;
                        ctrl_state_reg <= CTRL_IDLE;
                    end
            endcase
        end
    end

    //----------------------------------------------------------------
    // Outputs.
    //----------------------------------------------------------------
    assign cmd_ready   = (ctrl_state_reg == CTRL_IDLE);
    assign in_ready    = ((ctrl_state_reg == CTRL_DRAIN || ctrl_state_reg == CTRL_KEYFILL) &&
                          words_left_reg != 0) ||
                         (want_data && core_w_ready);
    assign res_valid   = res_valid_reg;
    assign res_status  = res_status_reg;
    assign res_tag     = res_tag_reg;
    assign res_counter = res_counter_reg;
    assign device_id   = device_id_reg;
    assign locked      = locked_reg;

endmodule

`default_nettype wire

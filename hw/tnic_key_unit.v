// Key unit of the attestation kernel: turns a session key into the HMAC
// inner and outer states that the MAC engines start from, so that a message
// never costs a key block. Used at bootstrap only (LOAD_KEY).
//
//   K0     = key zero-padded to 64 bytes, or SHA-256(key) zero-padded when
//            the key is longer than 64 bytes
//   istate = compress(IV, K0 ^ 0x36..36),  ostate = compress(IV, K0 ^ 0x5c..5c)
//
// The key arrives as ceil(len / (DATA_W / 8)) big-endian beats on in_*, and
// the unit takes one 32-bit word of a beat per cycle: it accepts a beat with
// the cycle that takes its last word. Timing without stalls, from the start
// edge to the edge that raises done, for every DATA_W:
//   len <= 64:  ceil(len / 4) + 132
//   len >  64:  65 * (floor((len + 72) / 64) + 2) + 1

`default_nettype none

module tnic_key_unit #(
    parameter integer LEN_W  = 16,
    parameter integer DATA_W = 32   // beat width in bits: 32, 64 or 128
) (
    input  wire             clk,
    input  wire             rst_n,

    input  wire             start,          // only while idle or done
    input  wire [LEN_W-1:0] start_len,      // key bytes

    input  wire              in_valid,
    input  wire [DATA_W-1:0] in_data,
    output wire              in_ready,

    output wire             done,           // held until the next start; the states are valid while done
    output wire [255:0]     istate,
    output wire [255:0]     ostate,

    // observation for lockstep co-simulation: {ku_state, pass}
    output wire [3:0]       obs
);

    localparam [255:0] SHA256_IV = {
        32'h6a09e667, 32'hbb67ae85, 32'h3c6ef372, 32'ha54ff53a,
        32'h510e527f, 32'h9b05688c, 32'h1f83d9ab, 32'h5be0cd19
    };

    localparam [1:0] KU_IDLE = 2'd0;
    localparam [1:0] KU_FILL = 2'd1;   // write a key of at most 64 bytes into keybuf_mem
    localparam [1:0] KU_HASH = 2'd2;   // run the passes below on the SHA-256 core
    localparam [1:0] KU_DONE = 2'd3;

    localparam [1:0] PASS_KEYHASH = 2'd0;  // SHA-256(key), for a key over 64 bytes
    localparam [1:0] PASS_IPAD    = 2'd1;
    localparam [1:0] PASS_OPAD    = 2'd2;

    localparam [LEN_W+3:0] KEYHASH_PAD = 72;  // 9 bytes of padding + 63 to round up
    localparam integer     LANES       = DATA_W / 32;       // 32-bit words per beat
    localparam [1:0]       LANE_LAST   = LANES[1:0] - 2'd1;

    // start_src of tnic_sha256_core
    localparam [1:0] CORE_SRC_A     = 2'd0;   // SHA256_IV
    localparam [1:0] CORE_SRC_CHAIN = 2'd2;   // the digest of the last block

    reg [1:0]       ku_state_reg;
    reg [1:0]       pass_reg;
    reg [LEN_W-1:0] len_reg;
    reg [LEN_W-3:0] blk_reg;
    reg [LEN_W-1:0] words_left_reg;
    reg [3:0]       fill_idx_reg;
    reg [255:0]     istate_reg;
    reg [255:0]     ostate_reg;            // SHA-256(key) until the opad pass ends
    reg [31:0]      keybuf_mem [0:15];     // a key of at most 64 bytes, one word each

    wire         core_start;
    wire [1:0]   core_start_src;
    wire         core_w_valid;
    wire [31:0]  core_w_data;
    wire         core_w_ready;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [5:0]   core_round;        // only rounds 0..15 take words, so bits 5:4 go unused
    /* verilator lint_on UNUSEDSIGNAL */
    wire         core_idle;
    wire         core_digest_valid;
    wire [255:0] core_digest;

    tnic_sha256_core u_core (
        .clk          (clk),
        .rst_n        (rst_n),
        .start        (core_start),
        .start_src    (core_start_src),
        .state_a      (SHA256_IV),
        .state_b      (SHA256_IV),
        .w_valid      (core_w_valid),
        .w_data       (core_w_data),
        .w_ready      (core_w_ready),
        .round        (core_round),
        .idle         (core_idle),
        .digest_valid (core_digest_valid),
        .digest       (core_digest)
    );

    //----------------------------------------------------------------
    // Word generator of the SHA-256(key) pass: word word_idx of
    // key || 0x80 || zeros || 64-bit length in bits. Only rounds 0..15
    // take input words, so the index needs no adder.
    //----------------------------------------------------------------
    /* verilator lint_off UNUSEDSIGNAL */
    wire [LEN_W+3:0] key_padded = {4'd0, len_reg} + KEYHASH_PAD;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [LEN_W-3:0] key_blocks = key_padded[LEN_W+3:6];
    wire [LEN_W-3:0] cur_blocks = (pass_reg == PASS_KEYHASH) ? key_blocks : 1;
    wire             last_blk   = (blk_reg + 1'b1 == cur_blocks);

    wire [LEN_W+1:0] word_idx  = {blk_reg, core_round[3:0]};
    // Index of the first word that is not a full key word.
    wire [LEN_W+1:0] full_end  = {4'd0, len_reg[LEN_W-1:2]};
    wire             tail_data = (len_reg[1:0] != 2'd0);       // that word has key bytes
    wire [LEN_W-1:0] key_words = (len_reg >> 2) + {{(LEN_W-1){1'b0}}, tail_data};
    // The key length in bits; below 2^32 for LEN_W <= 20.
    wire [31:0]      len_bits  = {{(29-LEN_W){1'b0}}, len_reg, 3'b000};
    wire             len_word  = last_blk && (core_round[3:0] == 4'd15);

    // Key word k sits in lane k mod (DATA_W / 32) of its beat: the fill
    // writes word fill_idx_reg, the SHA-256(key) pass takes word word_idx.
    wire [1:0]  lane    = ((ku_state_reg == KU_FILL) ? fill_idx_reg[1:0] : word_idx[1:0]) & LANE_LAST;
    wire [31:0] in_word = in_data[DATA_W - 1 - 32*lane -: 32];

    // The word at full_end: its key bytes, then 0x80, then zeros.
    reg [31:0] tail_word;
    always @(*) begin
        case (len_reg[1:0])
            2'd1:    tail_word = {in_word[31:24], 24'h800000};
            2'd2:    tail_word = {in_word[31:16], 16'h8000};
            2'd3:    tail_word = {in_word[31:8], 8'h80};
            default: tail_word = 32'h80000000;
        endcase
    end

    reg [31:0] hash_word;
    wire       hash_is_data = (word_idx < full_end) || (word_idx == full_end && tail_data);
    always @(*) begin
        if (word_idx < full_end)
            hash_word = in_word;
        else if (word_idx == full_end)
            hash_word = tail_word;
        else if (len_word)
            hash_word = len_bits;
        else
            hash_word = 32'h00000000;
    end

    //----------------------------------------------------------------
    // K0 ^ ipad and K0 ^ opad: K0 is SHA-256(key) from ostate_reg for a
    // key over 64 bytes, else the key from keybuf_mem; zeros fill it up.
    //----------------------------------------------------------------
    wire             long_key  = (len_reg > 64);
    wire [31:0]      keybuf_word = keybuf_mem[core_round[3:0]];
    wire [31:0]      hashed_word = ostate_reg[255 - 32*core_round[2:0] -: 32];
    reg  [31:0]      k0_word;
    always @(*) begin
        if (long_key)
            k0_word = core_round[3] ? 32'd0 : hashed_word;
        else
            k0_word = ({{(LEN_W-4){1'b0}}, core_round[3:0]} < key_words) ? keybuf_word : 32'd0;
    end
    wire [31:0] pad_word = k0_word ^ ((pass_reg == PASS_IPAD) ? 32'h36363636 : 32'h5c5c5c5c);

    wire in_hash   = (ku_state_reg == KU_HASH);
    wire hashing   = in_hash && (pass_reg == PASS_KEYHASH);
    wire want_data = hashing && hash_is_data;
    assign core_w_data  = hashing ? hash_word : pad_word;
    assign core_w_valid = !want_data || in_valid;

    //----------------------------------------------------------------
    // Block sequencing: launch on entry to KU_HASH, then on each finished block.
    //----------------------------------------------------------------
    wire first_launch = in_hash && core_idle;
    wire blk_done     = in_hash && core_digest_valid;
    wire all_done     = blk_done && (pass_reg == PASS_OPAD);
    assign core_start = first_launch || (blk_done && !all_done);

    wire [1:0] next_pass = (pass_reg == PASS_KEYHASH) ? PASS_IPAD : PASS_OPAD;
    wire chain = blk_done && !last_blk;
    assign core_start_src = chain ? CORE_SRC_CHAIN : CORE_SRC_A;

    wire [LEN_W-1:0] start_words = (start_len >> 2) + {{(LEN_W-1){1'b0}}, (start_len[1:0] != 2'd0)};

    // Key words into keybuf_mem: the last one keeps only its first
    // len[1:0] bytes (all four when 0).
    reg [31:0] fill_word;
    always @(*) begin
        fill_word = in_word;
        if (words_left_reg == 1) begin
            case (len_reg[1:0])
                2'd1:    fill_word = {in_word[31:24], 24'd0};
                2'd2:    fill_word = {in_word[31:16], 16'd0};
                2'd3:    fill_word = {in_word[31:8], 8'd0};
                default: fill_word = in_word;
            endcase
        end
    end
    wire fill_fire = (ku_state_reg == KU_FILL) && (words_left_reg != 0) && in_valid;

    // No reset: a pass reads only the words this key wrote.
    always @(posedge clk) begin
        if (fill_fire) keybuf_mem[fill_idx_reg] <= fill_word;
    end

    wire start_fire = start && (ku_state_reg == KU_IDLE || ku_state_reg == KU_DONE);

    always @(posedge clk) begin
        if (!rst_n) begin
            ku_state_reg   <= KU_IDLE;
            pass_reg       <= PASS_IPAD;
            len_reg        <= {LEN_W{1'b0}};
            blk_reg        <= 0;
            words_left_reg <= {LEN_W{1'b0}};
            fill_idx_reg   <= 4'd0;
            istate_reg     <= 256'd0;
            ostate_reg     <= 256'd0;
        end else if (start_fire) begin
            len_reg        <= start_len;
            blk_reg        <= 0;
            words_left_reg <= start_words;
            fill_idx_reg   <= 4'd0;
            if (start_len > 64) begin
                pass_reg     <= PASS_KEYHASH;
                ku_state_reg <= KU_HASH;
            end else begin
                pass_reg     <= PASS_IPAD;
                ku_state_reg <= KU_FILL;
            end
        end else begin
            case (ku_state_reg)
                KU_FILL:
                    if (words_left_reg == 0) begin
                        ku_state_reg <= KU_HASH;
                    end else if (in_valid) begin
                        fill_idx_reg   <= fill_idx_reg + 4'd1;
                        words_left_reg <= words_left_reg - 1'b1;
                    end

                KU_HASH:
                    if (all_done) begin
                        ostate_reg   <= core_digest;
                        ku_state_reg <= KU_DONE;
                    end else if (blk_done) begin
                        if (last_blk) begin
                            blk_reg  <= 0;
                            pass_reg <= next_pass;
                            if (pass_reg == PASS_KEYHASH) ostate_reg <= core_digest;
                            else                          istate_reg <= core_digest;
                        end else begin
                            blk_reg <= blk_reg + 1'b1;
                        end
                    end

                default: ;  // KU_IDLE, KU_DONE: wait for start
            endcase
        end
    end

    // A beat is accepted with its last lane, or with the last key word.
    wire beat_end_fill = (lane == LANE_LAST) || (words_left_reg == 1);
    wire beat_end_hash = (lane == LANE_LAST) || (word_idx + 1'b1 == {2'b00, key_words});
    assign in_ready = ((ku_state_reg == KU_FILL) && words_left_reg != 0 && beat_end_fill) ||
                      (want_data && core_w_ready && beat_end_hash);
    assign done     = (ku_state_reg == KU_DONE);
    assign istate   = istate_reg;
    assign ostate   = ostate_reg;
    assign obs      = {ku_state_reg, pass_reg};

endmodule

`default_nettype wire

// Key unit of the attestation kernel: turns a session key into the HMAC
// inner and outer states that the MAC engines start from, so that a message
// never costs a key block. Used at bootstrap only (LOAD_KEY).
//
//   K0     = key zero-padded to 64 bytes, or SHA-256(key) zero-padded when
//            the key is longer than 64 bytes
//   istate = compress(IV, K0 ^ 0x36..36),  ostate = compress(IV, K0 ^ 0x5c..5c)
//
// The key arrives as ceil(len / 4) big-endian words on in_*. Timing without
// stalls, from the start edge to the edge that raises done:
//   len <= 64:  ceil(len / 4) + 132
//   len >  64:  65 * (floor((len + 72) / 64) + 2) + 1

`default_nettype none

module tnic_key_unit #(
    parameter integer LEN_W = 16
) (
    input  wire             clk,
    input  wire             rst_n,

    input  wire             start,          // only while idle or done
    input  wire [LEN_W-1:0] start_len,      // key bytes

    input  wire             in_valid,
    input  wire [31:0]      in_data,
    output wire             in_ready,

    output wire             done,           // held until the next start
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
    localparam [1:0] KU_FILL = 2'd1;   // read a key of at most 64 bytes into keybuf
    localparam [1:0] KU_HASH = 2'd2;   // run the passes below on the SHA-256 core
    localparam [1:0] KU_DONE = 2'd3;

    localparam [1:0] PASS_KEYHASH = 2'd0;  // SHA-256(key), for a key over 64 bytes
    localparam [1:0] PASS_IPAD    = 2'd1;
    localparam [1:0] PASS_OPAD    = 2'd2;

    localparam [LEN_W+3:0] KEYHASH_PAD = 72;  // 9 bytes of padding + 63 to round up

    reg [1:0]       ku_state_reg;
    reg [1:0]       pass_reg;
    reg [LEN_W-1:0] len_reg;
    reg [LEN_W-3:0] blk_reg;
    reg [LEN_W-1:0] words_left_reg;
    reg [3:0]       fill_idx_reg;
    reg [511:0]     keybuf_reg;
    reg [255:0]     istate_reg;
    reg [255:0]     ostate_reg;

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

    //----------------------------------------------------------------
    // Word generator.
    //----------------------------------------------------------------
    /* verilator lint_off UNUSEDSIGNAL */
    wire [LEN_W+3:0] key_padded = {4'd0, len_reg} + KEYHASH_PAD;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [LEN_W-3:0] key_blocks = key_padded[LEN_W+3:6];
    wire [LEN_W-3:0] cur_blocks = (pass_reg == PASS_KEYHASH) ? key_blocks : 1;
    wire             last_blk   = (blk_reg + 1'b1 == cur_blocks);

    wire [31:0] len32     = {{(32-LEN_W){1'b0}}, len_reg};
    wire [31:0] word_idx  = {{(30-LEN_W){1'b0}}, blk_reg, 4'd0} + {26'd0, core_round};
    wire [31:0] byte_off  = {word_idx[29:0], 2'b00};
    wire [31:0] last_word = {{(30-LEN_W){1'b0}}, key_blocks, 4'd0};
    wire [63:0] len_bits  = {29'd0, len32, 3'b000};

    reg [31:0] hash_word;
    reg        hash_is_data;
    integer    j;
    always @(*) begin
        hash_is_data = 1'b0;
        if (byte_off < len32) begin
            hash_is_data = 1'b1;
            for (j = 0; j < 4; j = j + 1) begin
                if (byte_off + j < len32)
                    hash_word[31-8*j -: 8] = in_data[31-8*j -: 8];
                else if (byte_off + j == len32)
                    hash_word[31-8*j -: 8] = 8'h80;
                else
                    hash_word[31-8*j -: 8] = 8'h00;
            end
        end else if (word_idx == last_word - 32'd2) begin
            hash_word = len_bits[63:32];
        end else if (word_idx == last_word - 32'd1) begin
            hash_word = len_bits[31:0];
        end else if (byte_off == len32) begin
            hash_word = 32'h80000000;
        end else begin
            hash_word = 32'h00000000;
        end
    end

    wire [31:0] keybuf_word = keybuf_reg[511 - 32*core_round[3:0] -: 32];
    wire [31:0] pad_word    = keybuf_word ^ ((pass_reg == PASS_IPAD) ? 32'h36363636 : 32'h5c5c5c5c);

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
    assign core_state_in = chain ? core_digest : SHA256_IV;

    wire [LEN_W-1:0] start_words = (start_len >> 2) + {{(LEN_W-1){1'b0}}, (start_len[1:0] != 2'd0)};

    wire [31:0] fill_off = {26'd0, fill_idx_reg, 2'b00};
    wire [31:0] fill_word;
    genvar b;
    generate
        for (b = 0; b < 4; b = b + 1) begin : g_key_mask
            // Keep byte b of the word only if it lies before the key length.
            assign fill_word[31-8*b -: 8] = (fill_off + b < len32) ? in_data[31-8*b -: 8] : 8'h00;
        end
    endgenerate

    wire start_fire = start && (ku_state_reg == KU_IDLE || ku_state_reg == KU_DONE);

    always @(posedge clk) begin
        if (!rst_n) begin
            ku_state_reg   <= KU_IDLE;
            pass_reg       <= PASS_IPAD;
            len_reg        <= {LEN_W{1'b0}};
            blk_reg        <= 0;
            words_left_reg <= {LEN_W{1'b0}};
            fill_idx_reg   <= 4'd0;
            keybuf_reg     <= 512'd0;
            istate_reg     <= 256'd0;
            ostate_reg     <= 256'd0;
        end else if (start_fire) begin
            len_reg        <= start_len;
            blk_reg        <= 0;
            words_left_reg <= start_words;
            fill_idx_reg   <= 4'd0;
            keybuf_reg     <= 512'd0;
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
                        keybuf_reg[511 - 32*fill_idx_reg -: 32] <= fill_word;
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
                            if (pass_reg == PASS_KEYHASH) keybuf_reg <= {core_digest, 256'd0};
                            else                          istate_reg <= core_digest;
                        end else begin
                            blk_reg <= blk_reg + 1'b1;
                        end
                    end

                default: ;  // KU_IDLE, KU_DONE: wait for start
            endcase
        end
    end

    assign in_ready = ((ku_state_reg == KU_FILL) && words_left_reg != 0) ||
                      (want_data && core_w_ready);
    assign done     = (ku_state_reg == KU_DONE);
    assign istate   = istate_reg;
    assign ostate   = ostate_reg;
    assign obs      = {ku_state_reg, pass_reg};

endmodule

`default_nettype wire

// One MAC engine of the attestation kernel: computes
//   HMAC-SHA256 = SHA-256 from ostate over (SHA-256 from istate over header || msg)
// for one message at a time, from HMAC states precomputed at key load.
//
// The front end starts the engine with the message length, the 16-byte
// header and the session's HMAC states, then writes the message words into
// the engine's buffer (a simple dual-port RAM) while the engine hashes, so
// the input bus is free for the next message long before this one is done.
// In bypass mode (a rejected command) the engine only discards the words.
//
// Timing without stalls: the SHA-256 core loads at the start edge, each
// block costs 65 cycles, and the engine is done one edge after the outer
// block: done rises at edge 65 * (floor((len + 88) / 64) + 1) after start.

`default_nettype none

module tnic_engine #(
    parameter integer LEN_W   = 16,    // width of the message length in bytes
    parameter integer BUF_AW  = 11     // buffer of 2^BUF_AW 32-bit words
) (
    input  wire             clk,
    input  wire             rst_n,

    // start: one cycle, only while idle
    input  wire             start,
    input  wire             start_bypass,     // drain the words, compute nothing
    input  wire [LEN_W-1:0] start_len,        // message bytes
    input  wire [127:0]     start_header,     // session || device || counter
    input  wire [255:0]     start_istate,
    input  wire [255:0]     start_ostate,

    // message words from the front end, in order
    input  wire             wr_valid,
    input  wire [31:0]      wr_data,
    output wire             wr_ready,

    // result: held from done until release
    output wire             idle,
    output wire             done,
    output wire [255:0]     tag,
    input  wire             release_engine,

    // observation for lockstep co-simulation: {state word, wr_count, rd_count}
    output wire [95:0]      obs
);

    localparam [1:0] ENG_IDLE   = 2'd0;
    localparam [1:0] ENG_INNER  = 2'd1;  // SHA-256 from istate over header || msg
    localparam [1:0] ENG_OUTER  = 2'd2;  // SHA-256 from ostate over the inner digest
    localparam [1:0] ENG_DONE   = 2'd3;

    localparam integer BUF_WORDS = 1 << BUF_AW;
    localparam integer WCNT_W    = LEN_W - 1;     // enough for ceil(len / 4) words

    localparam [LEN_W+3:0] INNER_PAD = 88;        // 16 header bytes + 9 padding + 63 to round up

    //----------------------------------------------------------------
    // Registers.
    //----------------------------------------------------------------
    reg [1:0]        eng_state_reg;
    reg              bypass_reg;
    reg [LEN_W-1:0]  len_reg;
    reg [127:0]      header_reg;
    reg [255:0]      ostate_reg;
    reg [255:0]      inner_digest_reg;
    reg [255:0]      tag_reg;
    reg [LEN_W-3:0]  blk_reg;                     // inner block in progress
    reg [WCNT_W:0]   wr_count_reg;                // words written into the buffer
    reg [WCNT_W:0]   rd_count_reg;                // words read out of the buffer
    reg [31:0]       pref_data_reg;               // word rd_count_reg - 1, read ahead
    reg              pref_valid_reg;

    reg [31:0]       buf_mem [0:BUF_WORDS-1];

    //----------------------------------------------------------------
    // SHA-256 core.
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

    //----------------------------------------------------------------
    // Buffer: written by the front end, read one word ahead of the core.
    //----------------------------------------------------------------
    wire [WCNT_W:0] msg_words = {1'b0, len_reg[LEN_W-1:2]} + {{WCNT_W{1'b0}}, (len_reg[1:0] != 2'd0)};
    localparam [31:0]     BUF_WORDS32 = BUF_WORDS;
    localparam [WCNT_W:0] BUF_FULL    = BUF_WORDS32[WCNT_W:0];
    wire [WCNT_W:0] in_buffer = wr_count_reg - rd_count_reg;
    assign wr_ready = (eng_state_reg != ENG_IDLE) && (wr_count_reg != msg_words) &&
                      (in_buffer < BUF_FULL);
    wire wr_fire = wr_valid && wr_ready;

    // Word generator: position of the current word in the padded inner stream.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [LEN_W+3:0] inner_padded = {4'd0, len_reg} + INNER_PAD;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [LEN_W-3:0] inner_blocks = inner_padded[LEN_W+3:6];  // ceil((16 + len + 9) / 64)
    wire [31:0] word_idx  = {{(30-LEN_W){1'b0}}, blk_reg, 4'd0} + {26'd0, core_round};
    wire [31:0] byte_off  = {word_idx[29:0], 2'b00};
    wire [31:0] total     = {{(32-LEN_W){1'b0}}, len_reg} + 32'd16;
    wire [31:0] last_word = {{(30-LEN_W){1'b0}}, inner_blocks, 4'd0};
    wire [63:0] len_bits  = {29'd0, total + 32'd64, 3'b000};  // the ipad block counts too

    reg  [31:0] inner_word;
    reg         inner_is_data;
    integer     j;
    always @(*) begin
        inner_is_data = 1'b0;
        if (word_idx < 32'd4) begin
            inner_word = header_reg[127 - 32*word_idx[1:0] -: 32];
        end else if (byte_off < total) begin
            // Data word: keep bytes before `total`, put 0x80 right after the last.
            inner_is_data = 1'b1;
            for (j = 0; j < 4; j = j + 1) begin
                if (byte_off + j < total)
                    inner_word[31-8*j -: 8] = pref_data_reg[31-8*j -: 8];
                else if (byte_off + j == total)
                    inner_word[31-8*j -: 8] = 8'h80;
                else
                    inner_word[31-8*j -: 8] = 8'h00;
            end
        end else if (word_idx == last_word - 32'd2) begin
            inner_word = len_bits[63:32];
        end else if (word_idx == last_word - 32'd1) begin
            inner_word = len_bits[31:0];
        end else if (byte_off == total) begin
            inner_word = 32'h80000000;
        end else begin
            inner_word = 32'h00000000;
        end
    end

    // Outer block: inner digest, 0x80, zeros, length 768 bits (64 + 32 bytes).
    reg [31:0] outer_word;
    always @(*) begin
        if (core_round < 6'd8)
            outer_word = inner_digest_reg[255 - 32*core_round[2:0] -: 32];
        else if (core_round == 6'd8)
            outer_word = 32'h80000000;
        else if (core_round == 6'd15)
            outer_word = 32'd768;
        else
            outer_word = 32'd0;
    end

    wire in_inner   = (eng_state_reg == ENG_INNER) && !bypass_reg;
    wire want_data  = in_inner && inner_is_data;
    assign core_w_data  = in_inner ? inner_word : outer_word;
    assign core_w_valid = !want_data || pref_valid_reg;

    // The prefetch word is taken by the core (a data round) or discarded (bypass).
    wire bypassing  = (eng_state_reg == ENG_INNER) && bypass_reg;
    wire pref_take  = pref_valid_reg && ((want_data && core_w_ready) || bypassing);
    wire pref_load  = (rd_count_reg != wr_count_reg) && (!pref_valid_reg || pref_take);

    //----------------------------------------------------------------
    // Block sequencing.
    //----------------------------------------------------------------
    wire inner_last = (blk_reg + 1'b1 == inner_blocks);
    wire start_fire = start && (eng_state_reg == ENG_IDLE);
    assign core_start = (start_fire && !start_bypass) ||
                        ((eng_state_reg == ENG_INNER) && !bypass_reg && core_digest_valid);
    assign core_state_in = start_fire ? start_istate :
                           inner_last ? ostate_reg : core_digest;

    wire bypass_done = bypassing && !pref_valid_reg && (rd_count_reg == msg_words);

    always @(posedge clk) begin
        if (wr_fire) buf_mem[wr_count_reg[BUF_AW-1:0]] <= wr_data;
        if (pref_load) pref_data_reg <= buf_mem[rd_count_reg[BUF_AW-1:0]];
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            eng_state_reg    <= ENG_IDLE;
            bypass_reg       <= 1'b0;
            len_reg          <= {LEN_W{1'b0}};
            header_reg       <= 128'd0;
            ostate_reg       <= 256'd0;
            inner_digest_reg <= 256'd0;
            tag_reg          <= 256'd0;
            blk_reg          <= 0;
            wr_count_reg     <= 0;
            rd_count_reg     <= 0;
            pref_valid_reg   <= 1'b0;
        end else begin
            if (wr_fire) wr_count_reg <= wr_count_reg + 1'b1;
            if (pref_load) begin
                rd_count_reg   <= rd_count_reg + 1'b1;
                pref_valid_reg <= 1'b1;
            end else if (pref_take) begin
                pref_valid_reg <= 1'b0;
            end

            case (eng_state_reg)
                ENG_IDLE: if (start_fire) begin
                    eng_state_reg <= ENG_INNER;
                    bypass_reg    <= start_bypass;
                    len_reg       <= start_len;
                    header_reg    <= start_header;
                    ostate_reg    <= start_ostate;
                    blk_reg       <= 0;
                    wr_count_reg  <= 0;
                    rd_count_reg  <= 0;
                    tag_reg       <= 256'd0;
                end

                ENG_INNER:
                    if (bypass_reg) begin
                        if (bypass_done) eng_state_reg <= ENG_DONE;
                    end else if (core_digest_valid) begin
                        blk_reg <= blk_reg + 1'b1;
                        if (inner_last) begin
                            inner_digest_reg <= core_digest;
                            eng_state_reg    <= ENG_OUTER;
                        end
                    end

                ENG_OUTER: if (core_digest_valid) begin
                    tag_reg       <= core_digest;
                    eng_state_reg <= ENG_DONE;
                end

                default: if (release_engine) eng_state_reg <= ENG_IDLE;  // ENG_DONE
            endcase
        end
    end

    assign idle = (eng_state_reg == ENG_IDLE);
    assign done = (eng_state_reg == ENG_DONE);
    assign tag  = tag_reg;

    // Core state as the core encodes it: 0 idle, 1 rounds, 2 done.
    wire [1:0] core_state = core_idle ? 2'd0 : core_digest_valid ? 2'd2 : 2'd1;
    wire [19:0] blk20 = {{(22-LEN_W){1'b0}}, blk_reg};
    assign obs = {eng_state_reg, bypass_reg, pref_valid_reg, core_state, core_round, blk20,
                  {(31-WCNT_W){1'b0}}, wr_count_reg, {(31-WCNT_W){1'b0}}, rd_count_reg};

endmodule

`default_nettype wire

// One MAC engine of the attestation kernel: computes
//   HMAC-SHA256 = SHA-256 from ostate over (SHA-256 from istate over header || msg)
// for one message at a time, from HMAC states precomputed at key load.
//
// The front end starts the engine with the message length, the 16-byte
// header and the session's HMAC states, then writes the message beats
// (DATA_W bits each) into the engine's buffer, a simple dual-port RAM, while
// the engine hashes, so the input bus is free for the next message long
// before this one is done. The core takes one 32-bit word of a beat per
// round. In bypass mode (a rejected command) the engine only discards the
// beats.
//
// Timing without stalls: the SHA-256 core loads at the start edge, each
// block costs 65 cycles, and the engine is done one edge after the outer
// block: done rises at edge 65 * (floor((len + 88) / 64) + 1) after start.

`default_nettype none

module tnic_engine #(
    parameter integer LEN_W   = 16,    // width of the message length in bytes
    parameter integer BUF_AW  = 11,    // buffer of 2^BUF_AW 32-bit words
    parameter integer DATA_W  = 32     // beat width in bits: 32, 64 or 128
) (
    input  wire             clk,
    input  wire             rst_n,

    // start: one cycle, only while idle
    input  wire             start,
    input  wire             start_bypass,     // drain the beats, compute nothing
    input  wire [LEN_W-1:0] start_len,        // message bytes
    input  wire [127:0]     start_header,     // session || device || counter
    input  wire [255:0]     start_istate,
    input  wire [255:0]     start_ostate,

    // message beats from the front end, in order, first byte in the top bits
    input  wire              wr_valid,
    input  wire [DATA_W-1:0] wr_data,
    output wire              wr_ready,

    // result: held from done until release
    output wire             idle,
    output wire             done,
    output wire [255:0]     tag,              // the HMAC while done; undefined after a bypass
    input  wire             release_engine,

    // observation for lockstep co-simulation: {state word, wr_count, rd_count}
    output wire [95:0]      obs
);

    localparam [1:0] ENG_IDLE   = 2'd0;
    localparam [1:0] ENG_INNER  = 2'd1;  // SHA-256 from istate over header || msg
    localparam [1:0] ENG_OUTER  = 2'd2;  // SHA-256 from ostate over the inner digest
    localparam [1:0] ENG_DONE   = 2'd3;

    localparam integer WCNT_W     = LEN_W - 1;    // enough for the beats of the longest message
    localparam integer BEAT_SHIFT = (DATA_W == 128) ? 4 : (DATA_W == 64) ? 3 : 2;  // log2 of bytes per beat
    localparam [LEN_W-1:0] BEAT_MASK = (1 << BEAT_SHIFT) - 1;
    localparam integer BUF_BAW    = BUF_AW + 2 - BEAT_SHIFT;  // beat address bits
    localparam integer BUF_BEATS  = 1 << BUF_BAW;
    localparam integer LANES      = DATA_W / 32;              // 32-bit words per beat
    localparam [1:0]   LANE_LAST  = LANES[1:0] - 2'd1;

    localparam [LEN_W+3:0] INNER_PAD = 88;        // 16 header bytes + 9 padding + 63 to round up

    // start_src of tnic_sha256_core
    localparam [1:0] CORE_SRC_A     = 2'd0;       // start_istate
    localparam [1:0] CORE_SRC_B     = 2'd1;       // ostate_reg
    localparam [1:0] CORE_SRC_CHAIN = 2'd2;       // the digest of the last inner block

    //----------------------------------------------------------------
    // Registers.
    //----------------------------------------------------------------
    reg [1:0]        eng_state_reg;
    reg              bypass_reg;
    reg [LEN_W-1:0]  len_reg;
    reg [127:0]      header_reg;
    reg [255:0]      ostate_reg;
    reg [255:0]      inner_digest_reg;
    reg [LEN_W-3:0]  blk_reg;                     // inner block in progress
    reg [WCNT_W:0]   wr_count_reg;                // beats written into the buffer
    reg [WCNT_W:0]   rd_count_reg;                // beats read out of the buffer
    reg [DATA_W-1:0] pref_data_reg;               // beat rd_count_reg - 1, read ahead
    reg              pref_valid_reg;

    reg [DATA_W-1:0] buf_mem [0:BUF_BEATS-1];

    //----------------------------------------------------------------
    // SHA-256 core.
    //----------------------------------------------------------------
    wire         core_start;
    wire [1:0]   core_start_src;
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
        .start_src    (core_start_src),
        .state_a      (start_istate),
        .state_b      (ostate_reg),
        .w_valid      (core_w_valid),
        .w_data       (core_w_data),
        .w_ready      (core_w_ready),
        .round        (core_round),
        .idle         (core_idle),
        .digest_valid (core_digest_valid),
        .digest       (core_digest)
    );

    //----------------------------------------------------------------
    // Buffer: written by the front end, read one beat ahead of the core.
    //----------------------------------------------------------------
    wire [WCNT_W:0] msg_beats = (len_reg >> BEAT_SHIFT) + {{WCNT_W{1'b0}}, ((len_reg & BEAT_MASK) != 0)};
    localparam [31:0]     BUF_BEATS32 = BUF_BEATS;
    localparam [WCNT_W:0] BUF_FULL    = BUF_BEATS32[WCNT_W:0];
    wire [WCNT_W:0] in_buffer = wr_count_reg - rd_count_reg;
    assign wr_ready = (eng_state_reg != ENG_IDLE) && (wr_count_reg != msg_beats) &&
                      (in_buffer < BUF_FULL);
    wire wr_fire = wr_valid && wr_ready;

    // Word generator: word word_idx of the padded inner stream
    //   header (4 words) || msg || 0x80 || zeros || 64-bit length in bits.
    // Only rounds 0..15 take input words, so the index needs no adder.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [LEN_W+3:0] inner_padded = {4'd0, len_reg} + INNER_PAD;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [LEN_W-3:0] inner_blocks = inner_padded[LEN_W+3:6];  // ceil((16 + len + 9) / 64)
    wire [LEN_W+1:0] word_idx  = {blk_reg, core_round[3:0]};
    localparam [LEN_W+1:0] FULL_START = 4;                    // the message follows 4 header words
    // Index of the first word that is not a full message word.
    wire [LEN_W+1:0] full_end  = {4'd0, len_reg[LEN_W-1:2]} + {{(LEN_W-1){1'b0}}, 3'd4};
    wire             tail_data = (len_reg[1:0] != 2'd0);       // that word has message bytes
    // Length of ipad block || header || msg in bits; below 2^32 for LEN_W <= 20.
    wire [LEN_W:0]   len_bytes = {1'b0, len_reg} + {{(LEN_W-6){1'b0}}, 7'd80};
    wire [31:0]      len_bits  = {{(28-LEN_W){1'b0}}, len_bytes, 3'b000};
    wire             inner_last = (blk_reg + 1'b1 == inner_blocks);
    // The last word of the last inner block holds the low half of the length.
    wire             len_word  = inner_last && (core_round[3:0] == 4'd15);

    // Message word k sits in lane k mod (DATA_W / 32) of its beat. That lane
    // equals word_idx mod (DATA_W / 32), because 4 header words come first.
    wire [1:0]  lane      = word_idx[1:0] & LANE_LAST;
    wire [31:0] pref_word = pref_data_reg[DATA_W - 1 - 32*lane -: 32];
    // The beat is used up after its last lane or the last message word.
    wire [LEN_W+1:0] data_end = full_end + {{(LEN_W+1){1'b0}}, tail_data};
    wire        beat_end  = (lane == LANE_LAST) || (word_idx + 1'b1 == data_end);

    // The word at full_end: its message bytes, then 0x80, then zeros.
    reg [31:0] tail_word;
    always @(*) begin
        case (len_reg[1:0])
            2'd1:    tail_word = {pref_word[31:24], 24'h800000};
            2'd2:    tail_word = {pref_word[31:16], 16'h8000};
            2'd3:    tail_word = {pref_word[31:8], 8'h80};
            default: tail_word = 32'h80000000;
        endcase
    end

    reg  [31:0] inner_word;
    wire        inner_is_data = (word_idx >= FULL_START) &&
                                ((word_idx < full_end) || (word_idx == full_end && tail_data));
    always @(*) begin
        if (word_idx < FULL_START)
            inner_word = header_reg[127 - 32*word_idx[1:0] -: 32];
        else if (word_idx < full_end)
            inner_word = pref_word;
        else if (word_idx == full_end)
            inner_word = tail_word;
        else if (len_word)
            inner_word = len_bits;
        else
            inner_word = 32'h00000000;
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

    // The prefetched beat is used up by the core (its last data round) or
    // discarded (bypass).
    wire bypassing  = (eng_state_reg == ENG_INNER) && bypass_reg;
    wire pref_take  = pref_valid_reg && ((want_data && core_w_ready && beat_end) || bypassing);
    wire pref_load  = (rd_count_reg != wr_count_reg) && (!pref_valid_reg || pref_take);

    //----------------------------------------------------------------
    // Block sequencing.
    //----------------------------------------------------------------
    wire start_fire = start && (eng_state_reg == ENG_IDLE);
    assign core_start = (start_fire && !start_bypass) ||
                        ((eng_state_reg == ENG_INNER) && !bypass_reg && core_digest_valid);
    assign core_start_src = start_fire ? CORE_SRC_A : inner_last ? CORE_SRC_B : CORE_SRC_CHAIN;

    wire bypass_done = bypassing && !pref_valid_reg && (rd_count_reg == msg_beats);

    always @(posedge clk) begin
        if (wr_fire) buf_mem[wr_count_reg[BUF_BAW-1:0]] <= wr_data;
        if (pref_load) pref_data_reg <= buf_mem[rd_count_reg[BUF_BAW-1:0]];
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            eng_state_reg    <= ENG_IDLE;
            bypass_reg       <= 1'b0;
            len_reg          <= {LEN_W{1'b0}};
            header_reg       <= 128'd0;
            ostate_reg       <= 256'd0;
            inner_digest_reg <= 256'd0;
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

                ENG_OUTER: if (core_digest_valid) eng_state_reg <= ENG_DONE;

                default: if (release_engine) eng_state_reg <= ENG_IDLE;  // ENG_DONE
            endcase
        end
    end

    assign idle = (eng_state_reg == ENG_IDLE);
    assign done = (eng_state_reg == ENG_DONE);
    assign tag  = core_digest;  // held by the core until the next start

    // Core state as the core encodes it: 0 idle, 1 rounds, 2 done.
    wire [1:0] core_state = core_idle ? 2'd0 : core_digest_valid ? 2'd2 : 2'd1;
    wire [19:0] blk20 = {{(22-LEN_W){1'b0}}, blk_reg};
    assign obs = {eng_state_reg, bypass_reg, pref_valid_reg, core_state, core_round, blk20,
                  {(31-WCNT_W){1'b0}}, wr_count_reg, {(31-WCNT_W){1'b0}}, rd_count_reg};

endmodule

`default_nettype wire

// Formal-only stand-in for hw/tnic_engine.v with the same ports. It keeps
// the engine's handshake with the kernel and drops its datapath (buffer,
// SHA-256 core, padding), which is what makes the kernel's proofs solvable:
//
// - start is taken only while idle, as in the real engine;
// - it takes exactly ceil(start_len / (DATA_W / 8)) beats, and wr_ready may
//   stall at any cycle (a free choice of the solver);
// - after the last beat (at once for an empty message) it may become done
//   at any later cycle, and stays done until release_engine;
// - the tag is a free 256-bit value, fixed when done rises.
//
// Every behaviour of the real engine at this interface is one of these, so
// a safety property of the kernel proved with this engine holds with the
// real one too, for any hash values. It says nothing about the hash itself.

`default_nettype none

module tnic_engine #(
    parameter integer LEN_W   = 16,
    parameter integer BUF_AW  = 11,
    parameter integer DATA_W  = 32
) (
    input  wire             clk,
    input  wire             rst_n,

    input  wire             start,
    input  wire             start_bypass,
    input  wire [LEN_W-1:0] start_len,
    input  wire [127:0]     start_header,
    input  wire [255:0]     start_istate,
    input  wire [255:0]     start_ostate,

    input  wire              wr_valid,
    input  wire [DATA_W-1:0] wr_data,
    output wire              wr_ready,

    output wire             idle,
    output wire             done,
    output wire [255:0]     tag,
    input  wire             release_engine,

    output wire [95:0]      obs
);

    localparam [1:0] ENG_IDLE = 2'd0;
    localparam [1:0] ENG_BUSY = 2'd1;
    localparam [1:0] ENG_DONE = 2'd3;

    reg [1:0]       eng_state_reg;
    reg [LEN_W-1:0] words_left_reg;
    reg [255:0]     tag_reg;

    // Free inputs of the proof.
    wire         f_accept_word = $anyseq;
    wire         f_finish      = $anyseq;
    wire [255:0] f_tag         = $anyseq;

    localparam integer BEAT_SHIFT = (DATA_W == 128) ? 4 : (DATA_W == 64) ? 3 : 2;
    localparam [LEN_W-1:0] BEAT_MASK = (1 << BEAT_SHIFT) - 1;
    wire [LEN_W-1:0] start_words = (start_len >> BEAT_SHIFT) + {{(LEN_W-1){1'b0}}, ((start_len & BEAT_MASK) != 0)};
    wire start_fire = start && (eng_state_reg == ENG_IDLE);

    assign wr_ready = (eng_state_reg == ENG_BUSY) && (words_left_reg != 0) && f_accept_word;
    wire   wr_fire  = wr_valid && wr_ready;

    always @(posedge clk) begin
        if (!rst_n) begin
            eng_state_reg  <= ENG_IDLE;
            words_left_reg <= {LEN_W{1'b0}};
            tag_reg        <= 256'd0;
        end else begin
            case (eng_state_reg)
                ENG_IDLE: if (start_fire) begin
                    eng_state_reg  <= ENG_BUSY;
                    words_left_reg <= start_words;
                end
                ENG_BUSY:
                    if (wr_fire) begin
                        words_left_reg <= words_left_reg - 1'b1;
                    end else if (words_left_reg == 0 && f_finish) begin
                        eng_state_reg <= ENG_DONE;
                        tag_reg       <= f_tag;
                    end
                default: if (release_engine) eng_state_reg <= ENG_IDLE;  // ENG_DONE
            endcase
        end
    end

    assign idle = (eng_state_reg == ENG_IDLE);
    assign done = (eng_state_reg == ENG_DONE);
    assign tag  = tag_reg;
    assign obs  = 96'd0;

endmodule

`default_nettype wire

// Formal-only stand-in for hw/tnic_key_unit.v with the same ports: it
// takes exactly ceil(start_len / (DATA_W / 8)) key beats, stalling at any
// cycle, may finish at any cycle after the last one, and then holds free
// HMAC states until the next start. Every behaviour of the real key unit at this
// interface is one of these; the states themselves are not modelled.

`default_nettype none

module tnic_key_unit #(
    parameter integer LEN_W  = 16,
    parameter integer DATA_W = 32
) (
    input  wire             clk,
    input  wire             rst_n,

    input  wire             start,
    input  wire [LEN_W-1:0] start_len,

    input  wire              in_valid,
    input  wire [DATA_W-1:0] in_data,
    output wire              in_ready,

    output wire             done,
    output wire [255:0]     istate,
    output wire [255:0]     ostate,

    output wire [3:0]       obs
);

    localparam [1:0] KU_IDLE = 2'd0;
    localparam [1:0] KU_BUSY = 2'd1;
    localparam [1:0] KU_DONE = 2'd3;

    reg [1:0]       ku_state_reg;
    reg [LEN_W-1:0] words_left_reg;
    reg [255:0]     istate_reg;
    reg [255:0]     ostate_reg;

    // Free inputs of the proof.
    wire         f_accept_word = $anyseq;
    wire         f_finish      = $anyseq;
    wire [255:0] f_istate      = $anyseq;
    wire [255:0] f_ostate      = $anyseq;

    localparam integer BEAT_SHIFT = (DATA_W == 128) ? 4 : (DATA_W == 64) ? 3 : 2;
    localparam [LEN_W-1:0] BEAT_MASK = (1 << BEAT_SHIFT) - 1;
    wire [LEN_W-1:0] start_words = (start_len >> BEAT_SHIFT) + {{(LEN_W-1){1'b0}}, ((start_len & BEAT_MASK) != 0)};
    wire start_fire = start && (ku_state_reg == KU_IDLE || ku_state_reg == KU_DONE);

    assign in_ready = (ku_state_reg == KU_BUSY) && (words_left_reg != 0) && f_accept_word;

    always @(posedge clk) begin
        if (!rst_n) begin
            ku_state_reg   <= KU_IDLE;
            words_left_reg <= {LEN_W{1'b0}};
            istate_reg     <= 256'd0;
            ostate_reg     <= 256'd0;
        end else if (start_fire) begin
            ku_state_reg   <= KU_BUSY;
            words_left_reg <= start_words;
        end else if (ku_state_reg == KU_BUSY) begin
            if (in_valid && in_ready) begin
                words_left_reg <= words_left_reg - 1'b1;
            end else if (words_left_reg == 0 && f_finish) begin
                ku_state_reg <= KU_DONE;
                istate_reg   <= f_istate;
                ostate_reg   <= f_ostate;
            end
        end
    end

    assign done   = (ku_state_reg == KU_DONE);
    assign istate = istate_reg;
    assign ostate = ostate_reg;
    assign obs    = {ku_state_reg, 2'b00};

endmodule

`default_nettype wire

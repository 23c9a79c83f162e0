// SHA-256 compression core: one round per clock, 64 rounds per 512-bit block.
//
// A block starts when `start` is high while the core is idle or done. The
// core loads its working variables and chaining value from the source that
// start_src selects: state_a, state_b, or its own digest (SRC_CHAIN, the
// next block of the same message). During rounds 0..15 it takes message
// word W[t] from w_data (big-endian, first word first) and stalls while
// w_valid is low; rounds 16..63 expand the schedule from a 16-word window.
// Rounds 60..63 add the working variables into the chaining value, two
// words per round. After round 63 the core is done for one cycle, and
// `digest` holds the result until the next start.
//
// Timing: start edge + 64 round edges = 65 cycles per block without stalls.

`default_nettype none

module tnic_sha256_core (
    input  wire         clk,
    input  wire         rst_n,

    // control
    input  wire         start,
    input  wire [1:0]   start_src,      // SRC_A, SRC_B or SRC_CHAIN below
    input  wire [255:0] state_a,        // H0 in [255:224] ... H7 in [31:0]
    input  wire [255:0] state_b,

    // message words for rounds 0..15
    input  wire         w_valid,
    input  wire [31:0]  w_data,
    output wire         w_ready,

    // status
    output wire [5:0]   round,          // index t of the round in progress
    output wire         idle,
    output wire         digest_valid,   // high for the one cycle after round 63
    output wire [255:0] digest
);

    localparam [1:0] SRC_A     = 2'd0;
    localparam [1:0] SRC_B     = 2'd1;
    localparam [1:0] SRC_CHAIN = 2'd2;

    localparam [1:0] CORE_IDLE  = 2'd0;
    localparam [1:0] CORE_ROUND = 2'd1;
    localparam [1:0] CORE_DONE  = 2'd2;

    reg [1:0]   core_state_reg;
    reg [5:0]   t_reg;
    reg [255:0] h_reg;                  // chaining value, then the digest
    reg [31:0]  a_reg, b_reg, c_reg, d_reg, e_reg, f_reg, g_reg, hh_reg;
    reg [511:0] w_window_reg;           // W[t-16] in [511:480] ... W[t-1] in [31:0]

    //----------------------------------------------------------------
    // Round constants K[0..63] (FIPS 180-4, section 4.2.2).
    //----------------------------------------------------------------
    function [31:0] sha256_k(input [5:0] t);
        case (t)
            6'd0:  sha256_k = 32'h428a2f98; 6'd1:  sha256_k = 32'h71374491;
            6'd2:  sha256_k = 32'hb5c0fbcf; 6'd3:  sha256_k = 32'he9b5dba5;
            6'd4:  sha256_k = 32'h3956c25b; 6'd5:  sha256_k = 32'h59f111f1;
            6'd6:  sha256_k = 32'h923f82a4; 6'd7:  sha256_k = 32'hab1c5ed5;
            6'd8:  sha256_k = 32'hd807aa98; 6'd9:  sha256_k = 32'h12835b01;
            6'd10: sha256_k = 32'h243185be; 6'd11: sha256_k = 32'h550c7dc3;
            6'd12: sha256_k = 32'h72be5d74; 6'd13: sha256_k = 32'h80deb1fe;
            6'd14: sha256_k = 32'h9bdc06a7; 6'd15: sha256_k = 32'hc19bf174;
            6'd16: sha256_k = 32'he49b69c1; 6'd17: sha256_k = 32'hefbe4786;
            6'd18: sha256_k = 32'h0fc19dc6; 6'd19: sha256_k = 32'h240ca1cc;
            6'd20: sha256_k = 32'h2de92c6f; 6'd21: sha256_k = 32'h4a7484aa;
            6'd22: sha256_k = 32'h5cb0a9dc; 6'd23: sha256_k = 32'h76f988da;
            6'd24: sha256_k = 32'h983e5152; 6'd25: sha256_k = 32'ha831c66d;
            6'd26: sha256_k = 32'hb00327c8; 6'd27: sha256_k = 32'hbf597fc7;
            6'd28: sha256_k = 32'hc6e00bf3; 6'd29: sha256_k = 32'hd5a79147;
            6'd30: sha256_k = 32'h06ca6351; 6'd31: sha256_k = 32'h14292967;
            6'd32: sha256_k = 32'h27b70a85; 6'd33: sha256_k = 32'h2e1b2138;
            6'd34: sha256_k = 32'h4d2c6dfc; 6'd35: sha256_k = 32'h53380d13;
            6'd36: sha256_k = 32'h650a7354; 6'd37: sha256_k = 32'h766a0abb;
            6'd38: sha256_k = 32'h81c2c92e; 6'd39: sha256_k = 32'h92722c85;
            6'd40: sha256_k = 32'ha2bfe8a1; 6'd41: sha256_k = 32'ha81a664b;
            6'd42: sha256_k = 32'hc24b8b70; 6'd43: sha256_k = 32'hc76c51a3;
            6'd44: sha256_k = 32'hd192e819; 6'd45: sha256_k = 32'hd6990624;
            6'd46: sha256_k = 32'hf40e3585; 6'd47: sha256_k = 32'h106aa070;
            6'd48: sha256_k = 32'h19a4c116; 6'd49: sha256_k = 32'h1e376c08;
            6'd50: sha256_k = 32'h2748774c; 6'd51: sha256_k = 32'h34b0bcb5;
            6'd52: sha256_k = 32'h391c0cb3; 6'd53: sha256_k = 32'h4ed8aa4a;
            6'd54: sha256_k = 32'h5b9cca4f; 6'd55: sha256_k = 32'h682e6ff3;
            6'd56: sha256_k = 32'h748f82ee; 6'd57: sha256_k = 32'h78a5636f;
            6'd58: sha256_k = 32'h84c87814; 6'd59: sha256_k = 32'h8cc70208;
            6'd60: sha256_k = 32'h90befffa; 6'd61: sha256_k = 32'ha4506ceb;
            6'd62: sha256_k = 32'hbef9a3f7; default: sha256_k = 32'hc67178f2;
        endcase
    endfunction

    function [31:0] rotr(input [31:0] x, input integer n);
        rotr = (x >> n) | (x << (32 - n));
    endfunction

    //----------------------------------------------------------------
    // Message schedule: W[t] from the input for t < 16, else
    // sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16].
    //----------------------------------------------------------------
    wire [31:0] w_t16 = w_window_reg[511:480];
    wire [31:0] w_t15 = w_window_reg[479:448];
    wire [31:0] w_t7  = w_window_reg[223:192];
    wire [31:0] w_t2  = w_window_reg[63:32];
    wire [31:0] sigma0 = rotr(w_t15, 7) ^ rotr(w_t15, 18) ^ (w_t15 >> 3);
    wire [31:0] sigma1 = rotr(w_t2, 17) ^ rotr(w_t2, 19) ^ (w_t2 >> 10);
    wire [31:0] w_sum1, w_sum2, w_expanded;
    tnic_adder u_w_sum1 (.a(sigma1), .b(w_t7),  .sum(w_sum1));
    tnic_adder u_w_sum2 (.a(sigma0), .b(w_t16), .sum(w_sum2));
    tnic_adder u_w_exp  (.a(w_sum1), .b(w_sum2), .sum(w_expanded));
    wire        from_input = (t_reg < 6'd16);
    wire [31:0] w_cur = from_input ? w_data : w_expanded;

    //----------------------------------------------------------------
    // Round function: T1 = h + Sigma1(e) + Ch(e,f,g) + K[t] + W[t],
    // T2 = Sigma0(a) + Maj(a,b,c), a' = T1 + T2, e' = d + T1.
    //----------------------------------------------------------------
    wire [31:0] big_sigma1 = rotr(e_reg, 6) ^ rotr(e_reg, 11) ^ rotr(e_reg, 25);
    wire [31:0] big_sigma0 = rotr(a_reg, 2) ^ rotr(a_reg, 13) ^ rotr(a_reg, 22);
    wire [31:0] ch  = (e_reg & f_reg) ^ (~e_reg & g_reg);
    wire [31:0] maj = (a_reg & b_reg) ^ (a_reg & c_reg) ^ (b_reg & c_reg);
    wire [31:0] hk, hkw, s1ch, t1, t2, a_next, e_next;
    tnic_adder u_hk     (.a(hh_reg),     .b(sha256_k(t_reg)), .sum(hk));
    tnic_adder u_hkw    (.a(hk),         .b(w_cur),           .sum(hkw));
    tnic_adder u_s1ch   (.a(big_sigma1), .b(ch),              .sum(s1ch));
    tnic_adder u_t1     (.a(hkw),        .b(s1ch),            .sum(t1));
    tnic_adder u_t2     (.a(big_sigma0), .b(maj),             .sum(t2));
    tnic_adder u_a_next (.a(t1),         .b(t2),              .sum(a_next));
    tnic_adder u_e_next (.a(d_reg),      .b(t1),              .sum(e_next));

    //----------------------------------------------------------------
    // Feed-forward: H[i] += working variable i, two words per round over
    // rounds 60..63. The new a of round 60 ends as d after round 63, so
    // round 60 adds it to H3, round 61 to H2, and so on. h_reg holds each
    // half as a shift register: the sum enters the first word of the half
    // while its other words move down one, so after round 63 each half is
    // back in order.
    //----------------------------------------------------------------
    wire        ff_round = (t_reg[5:2] == 4'hf);
    wire [31:0] ff_sum_a, ff_sum_e;
    tnic_adder u_ff_a (.a(h_reg[159:128]), .b(a_next), .sum(ff_sum_a));
    tnic_adder u_ff_e (.a(h_reg[31:0]),    .b(e_next), .sum(ff_sum_e));

    wire in_round  = (core_state_reg == CORE_ROUND);
    wire round_en  = in_round && (!from_input || w_valid);
    wire can_start = (core_state_reg == CORE_IDLE) || (core_state_reg == CORE_DONE);

    wire load = start && can_start;

    // Each register bit picks one of four values, which fits one 6-input LUT:
    // the three load sources, or its value for the next round. `keep` makes
    // the select a net of its own in Yosys's ABC mapping; without it, ABC
    // folds the select logic into each bit and needs two LUTs for most bits.
    // The case on sel sits in the clocked block below, so an event-driven
    // simulator such as Icarus evaluates it at clock edges only.
    localparam [1:0] SEL_NEXT = 2'd3;
    (* keep *) wire [1:0] sel;
    assign sel = load ? start_src : SEL_NEXT;

    // Working variables: a and e take the round sums, the others shift.
    wire [255:0] vars_next = {a_next, a_reg, b_reg, c_reg, e_next, e_reg, f_reg, g_reg};
    // Chaining value: the sums enter H0 and H4, the other words shift down.
    wire [255:0] h_next = {ff_sum_a, h_reg[255:160], ff_sum_e, h_reg[127:32]};

    always @(posedge clk) begin
        if (!rst_n) begin
            core_state_reg <= CORE_IDLE;
            t_reg          <= 6'd0;
            h_reg          <= 256'd0;
            {a_reg, b_reg, c_reg, d_reg, e_reg, f_reg, g_reg, hh_reg} <= 256'd0;
            w_window_reg   <= 512'd0;
        end else begin
            if (load || round_en) begin
                case (sel)
                    SRC_A:     {a_reg, b_reg, c_reg, d_reg, e_reg, f_reg, g_reg, hh_reg} <= state_a;
                    SRC_B:     {a_reg, b_reg, c_reg, d_reg, e_reg, f_reg, g_reg, hh_reg} <= state_b;
                    SRC_CHAIN: {a_reg, b_reg, c_reg, d_reg, e_reg, f_reg, g_reg, hh_reg} <= h_reg;
                    default:   {a_reg, b_reg, c_reg, d_reg, e_reg, f_reg, g_reg, hh_reg} <= vars_next;
                endcase
            end
            if (load || (round_en && ff_round)) begin
                case (sel)
                    SRC_A:     h_reg <= state_a;
                    SRC_B:     h_reg <= state_b;
                    SRC_CHAIN: h_reg <= h_reg;
                    default:   h_reg <= h_next;
                endcase
            end

            if (load) begin
                core_state_reg <= CORE_ROUND;
                t_reg          <= 6'd0;
            end else if (round_en) begin
                w_window_reg <= {w_window_reg[479:0], w_cur};
                t_reg        <= t_reg + 6'd1;
                if (t_reg == 6'd63) core_state_reg <= CORE_DONE;
            end else if (core_state_reg == CORE_DONE) begin
                core_state_reg <= CORE_IDLE;
            end
        end
    end

    assign w_ready      = in_round && from_input;
    assign round        = t_reg;
    assign idle         = (core_state_reg == CORE_IDLE);
    assign digest_valid = (core_state_reg == CORE_DONE);
    assign digest       = h_reg;

endmodule

`default_nettype wire

// Two-operand adder of W bits, modulo 2^W.
//
// A module of its own so that Yosys (0.23, synth_xilinx without -flatten)
// maps each sum of the SHA-256 round onto a ripple-carry chain. Written
// inline, a chain of additions is merged into one multi-operand $macc
// cell, which becomes a carry-save tree of full adders and costs about 200
// more LUTs per SHA-256 core.

`default_nettype none

module tnic_adder #(
    parameter integer W = 32
) (
    input  wire [W-1:0] a,
    input  wire [W-1:0] b,
    output wire [W-1:0] sum
);

    assign sum = a + b;

endmodule

`default_nettype wire

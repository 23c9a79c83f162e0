// Formal top of the attestation kernel: small parameters, every input of
// the kernel a free input of the proof, reset in the first cycle only. The
// properties themselves are in tnic_kernel_props.vh, which must be included
// at the end of a copy of the kernel's module body so they can name its
// registers: Yosys 0.23 supports neither hierarchical references nor `bind`.
// run_proofs.sh does this and checks each property.

`default_nettype none

module tnic_kernel_formal_top #(
    parameter integer N_SESSIONS = 2,
    parameter integer N_ENGINES  = 2,
    parameter integer LEN_W      = 8,
    parameter integer BUF_AW     = 4,
    parameter integer DATA_W     = 32
) (
    input  wire             clk,
    input  wire             rst_n,

    input  wire             cmd_valid,
    input  wire [2:0]       cmd_op,
    input  wire [31:0]      cmd_session,
    input  wire [LEN_W-1:0] cmd_len,
    input  wire [31:0]      cmd_device,
    input  wire [63:0]      cmd_counter,
    input  wire [255:0]     cmd_tag,

    input  wire              in_valid,
    input  wire [DATA_W-1:0] in_data,

    input  wire             res_ready
);

    // Reset in the first cycle, never again: the counters are meant to
    // survive everything but a reset.
    always @(*) begin
        if ($initstate) assume(!rst_n);
        else            assume(rst_n);
    end

    wire                    cmd_ready;
    wire                    in_ready;
    wire                    res_valid;
    wire [2:0]              res_status;
    wire [255:0]            res_tag;
    wire [63:0]             res_counter;
    wire [31:0]             device_id;
    wire                    locked;
    wire [63:0]             obs_frontend;
    wire [96*N_ENGINES-1:0] obs_engines;

    tnic_kernel #(
        .N_SESSIONS (N_SESSIONS),
        .N_ENGINES  (N_ENGINES),
        .LEN_W      (LEN_W),
        .BUF_AW     (BUF_AW),
        .DATA_W     (DATA_W)
    ) u_kernel (
        .clk          (clk),
        .rst_n        (rst_n),
        .cmd_valid    (cmd_valid),
        .cmd_ready    (cmd_ready),
        .cmd_op       (cmd_op),
        .cmd_session  (cmd_session),
        .cmd_len      (cmd_len),
        .cmd_device   (cmd_device),
        .cmd_counter  (cmd_counter),
        .cmd_tag      (cmd_tag),
        .in_valid     (in_valid),
        .in_ready     (in_ready),
        .in_data      (in_data),
        .res_valid    (res_valid),
        .res_ready    (res_ready),
        .res_status   (res_status),
        .res_tag      (res_tag),
        .res_counter  (res_counter),
        .device_id    (device_id),
        .locked       (locked),
        .obs_frontend (obs_frontend),
        .obs_engines  (obs_engines)
    );

endmodule

`default_nettype wire

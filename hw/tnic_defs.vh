// Operation and status codes of the TNIC attestation kernel, shared by
// tnic_kernel.v, the Verilator harness and the TypeScript model
// (sim/kernel_codes.ts). Include inside a module body.

// cmd_op
localparam [2:0] OP_LOAD_KEY = 3'd0;  // provision a session key (bootstrap only, once per session)
localparam [2:0] OP_ATTEST   = 3'd1;  // MAC header || msg with send_cnt, then send_cnt += 1
localparam [2:0] OP_VERIFY   = 3'd2;  // check tag and counter == recv_cnt, then recv_cnt += 1
localparam [2:0] OP_CHECK    = 3'd3;  // check the tag only (transferable verification), no counter
localparam [2:0] OP_SET_ID   = 3'd4;  // write the device id register (bootstrap only)
localparam [2:0] OP_LOCK     = 3'd5;  // end bootstrap: LOAD_KEY and SET_ID are rejected afterwards

// res_status
localparam [2:0] ST_OK              = 3'd0;
localparam [2:0] ST_BAD_TAG         = 3'd1;
localparam [2:0] ST_REPLAYED        = 3'd2;  // counter below recv_cnt
localparam [2:0] ST_GAP             = 3'd3;  // counter above recv_cnt
localparam [2:0] ST_UNKNOWN_SESSION = 3'd4;  // session out of range or without a key
localparam [2:0] ST_OVERFLOW        = 3'd5;  // the counter would wrap past 2^64 - 1
localparam [2:0] ST_REJECTED        = 3'd6;  // provisioning after lock, or a key loaded twice
localparam [2:0] ST_BAD_OP          = 3'd7;

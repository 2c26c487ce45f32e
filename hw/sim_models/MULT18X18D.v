// Behavioural simulation model of the Lattice ECP5 MULT18X18D subset that codesign's
// generators instantiate (codesign.hw.dsp.ecp5_multiply): an 18x18 multiplier with optional
// input registers on A and B and an optional output register, each on CLK0 with a clock
// enable chosen by REG_*_CE, synchronous reset by REG_*_RST (RESETMODE "SYNC"), signedness
// from SIGNEDA / SIGNEDB (Lattice TN1267, ECP5 and ECP5-5G sysDSP Usage Guide). Written for
// codesign (Yosys ships only a black box of the cell). Not modelled, and refused at time 0:
// the C input and pipeline registers, the shift chains (SOURCEA/SOURCEB), clocks other
// than CLK0, asynchronous reset, MULT_BYPASS. For simulation only: synthesis uses Yosys' cell.
module MULT18X18D(
    input A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17,
    input B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, B10, B11, B12, B13, B14, B15, B16, B17,
    /* verilator lint_off UNUSEDSIGNAL */  // the cell's ports this subset does not use
    input C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16, C17,
    input SOURCEA, SOURCEB, CLK1, CLK2, CLK3,
    /* verilator lint_on UNUSEDSIGNAL */
    input SIGNEDA, SIGNEDB, CLK0,
    input CE0, CE1, CE2, CE3,
    input RST0, RST1, RST2, RST3,
    output P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13, P14, P15, P16, P17,
    output P18, P19, P20, P21, P22, P23, P24, P25, P26, P27, P28, P29, P30, P31, P32, P33, P34, P35
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    /* verilator lint_off UNUSEDPARAM */  // parameters of what this subset refuses or ignores
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    /* verilator lint_on UNUSEDPARAM */
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    // each register's clock enable and reset, as its REG_*_CE / REG_*_RST parameter selects
    wire ce_a = REG_INPUTA_CE == "CE0" ? CE0 : REG_INPUTA_CE == "CE1" ? CE1
        : REG_INPUTA_CE == "CE2" ? CE2 : CE3;
    wire ce_b = REG_INPUTB_CE == "CE0" ? CE0 : REG_INPUTB_CE == "CE1" ? CE1
        : REG_INPUTB_CE == "CE2" ? CE2 : CE3;
    wire ce_p = REG_OUTPUT_CE == "CE0" ? CE0 : REG_OUTPUT_CE == "CE1" ? CE1
        : REG_OUTPUT_CE == "CE2" ? CE2 : CE3;
    wire rst_a = REG_INPUTA_RST == "RST0" ? RST0 : REG_INPUTA_RST == "RST1" ? RST1
        : REG_INPUTA_RST == "RST2" ? RST2 : RST3;
    wire rst_b = REG_INPUTB_RST == "RST0" ? RST0 : REG_INPUTB_RST == "RST1" ? RST1
        : REG_INPUTB_RST == "RST2" ? RST2 : RST3;
    wire rst_p = REG_OUTPUT_RST == "RST0" ? RST0 : REG_OUTPUT_RST == "RST1" ? RST1
        : REG_OUTPUT_RST == "RST2" ? RST2 : RST3;

    wire [17:0] a_in = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2,
                        A1, A0};
    wire [17:0] b_in = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2,
                        B1, B0};
    reg [17:0] a_reg;  // cleared at configuration, like the device's DSP registers
    reg [17:0] b_reg;
    reg [35:0] p_reg;
    wire [17:0] a_op = REG_INPUTA_CLK == "NONE" ? a_in : a_reg;
    wire [17:0] b_op = REG_INPUTB_CLK == "NONE" ? b_in : b_reg;
    // the low 36 bits of the product of the extended operands: the signed (or unsigned) product
    wire [35:0] a_ext = {{18{SIGNEDA & a_op[17]}}, a_op};
    wire [35:0] b_ext = {{18{SIGNEDB & b_op[17]}}, b_op};
    wire [35:0] product = a_ext * b_ext;
    wire [35:0] p_out = REG_OUTPUT_CLK == "NONE" ? product : p_reg;
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19,
            P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1,
            P0} = p_out;

    always @(posedge CLK0) begin
        if (rst_a) a_reg <= 18'd0;
        else if (ce_a) a_reg <= a_in;
        if (rst_b) b_reg <= 18'd0;
        else if (ce_b) b_reg <= b_in;
        if (rst_p) p_reg <= 36'd0;
        else if (ce_p) p_reg <= product;
    end

    initial begin
        a_reg = 18'd0;
        b_reg = 18'd0;
        p_reg = 36'd0;
        if ((REG_INPUTA_CLK != "NONE" && REG_INPUTA_CLK != "CLK0")
            || (REG_INPUTB_CLK != "NONE" && REG_INPUTB_CLK != "CLK0")
            || (REG_OUTPUT_CLK != "NONE" && REG_OUTPUT_CLK != "CLK0")
            || REG_INPUTC_CLK != "NONE" || REG_PIPELINE_CLK != "NONE"
            || MULT_BYPASS != "DISABLED" || RESETMODE != "SYNC") begin
            $display("MULT18X18D model: unsupported configuration in %m");
            $finish;
        end
    end
endmodule

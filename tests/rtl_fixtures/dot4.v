// Test fixture for the generic stream bench (not generated): a weight-stationary dot product
// of four int8 lanes with Amaranth-style stream ports (x__valid, x__ready, x__payload).
// A tile: one weight beat on w, then t_len input beats on i; each input beat i yields one
// output beat o = sum_k w[k] * i[k] (int32) one cycle later. Back-pressure on o stalls i.
// Tile cycles without back-pressure: 1 + t_len + 1.
module dot4(
  input clk, input rst,
  input [15:0] t_len,
  input w__valid, output w__ready, input [31:0] w__payload,
  input i__valid, output i__ready, input [31:0] i__payload,
  output reg o__valid, input o__ready, output reg [31:0] o__payload
);
  reg [31:0] w_reg;
  reg have_w;
  reg [15:0] left;
  wire out_free = !o__valid || o__ready;
  assign w__ready = !have_w;
  assign i__ready = have_w && out_free;
  wire signed [31:0] dot =
      $signed(w_reg[7:0])   * $signed(i__payload[7:0])   +
      $signed(w_reg[15:8])  * $signed(i__payload[15:8])  +
      $signed(w_reg[23:16]) * $signed(i__payload[23:16]) +
      $signed(w_reg[31:24]) * $signed(i__payload[31:24]);
  always @(posedge clk) begin
    if (rst) begin
      have_w <= 0; o__valid <= 0; left <= 0; w_reg <= 0; o__payload <= 0;
    end else begin
      if (w__valid && w__ready) begin
        w_reg <= w__payload; have_w <= 1; left <= t_len;
      end
      if (o__valid && o__ready) o__valid <= 0;
      if (i__valid && i__ready) begin
        o__payload <= dot; o__valid <= 1;
        left <= left - 1;
        if (left == 1) have_w <= 0;
      end
    end
  end
endmodule

package dev.diagonal.backend.cuda;

/**
 * Every kernel of the ABI (kernels/README.md) with the PTX file it lives in. The argument list each one takes
 * is in that table; {@link CudaBackend} passes them in that order.
 */
enum Kernel {
    ADD("elementwise", "add_f32"),
    MUL("elementwise", "mul_f32"),
    ADD_ROW("elementwise", "add_row_f32"),
    GELU_TANH("elementwise", "gelu_tanh_f32"),
    SILU("elementwise", "silu_f32"),
    GATED_ADD("elementwise", "gated_add_f32"),
    MODULATE("elementwise", "modulate_f32"),
    TO_BF16("elementwise", "to_bf16"),
    TO_F16("elementwise", "to_f16"),
    COPY_ROWS("elementwise", "copy_rows_f32"),
    FLOW_TO_X0("schedule", "flow_to_x0_f32"),
    ADD_NOISE("schedule", "add_noise_f32"),
    FLOW_STEP("schedule", "flow_step_f32"),
    LAYER_NORM("norms", "layer_norm_f32"),
    RMS_NORM("norms", "rms_norm_f32"),
    LAYER_NORM_MODULATE("norms", "layer_norm_modulate_f32"),
    ROPE3D("rope", "rope3d_f32"),
    PATCHIFY("layout", "patchify_f32"),
    UNPATCHIFY("layout", "unpatchify_f32"),
    UPSAMPLE_NEAREST2X("layout", "upsample_nearest2x_f32"),
    ATTENTION("attention", "attention_f32"),
    BIASED_ATTENTION("attention", "biased_attention_f32"),
    CONV3D_F32("conv3d", "conv3d_f32"),
    CONV3D_BF16("conv3d", "conv3d_bf16"),
    CONV3D_F16("conv3d", "conv3d_f16"),
    FLOW_WARP_ERROR("flowwarp", "flow_warp_error_f32");

    /** The .cu file's base name: its PTX is the classpath resource kernels/&lt;file&gt;.ptx beside this class. */
    final String file;
    /** The extern "C" symbol. */
    final String symbol;

    Kernel(String file, String symbol) {
        this.file = file;
        this.symbol = symbol;
    }
}

package dev.diagonal.backend.cuda;

/**
 * Every kernel of the ABI (kernels/README.md) with the PTX file it lives in. The argument list each one takes
 * is in that table and in {@link #parameters}; {@link CudaBackend} passes them in that order.
 */
enum Kernel {
    ADD("elementwise", "add_f32", "ppl"),
    MUL("elementwise", "mul_f32", "ppl"),
    ADD_ROW("elementwise", "add_row_f32", "ppli"),
    GELU_TANH("elementwise", "gelu_tanh_f32", "pl"),
    SILU("elementwise", "silu_f32", "pl"),
    GATED_ADD("elementwise", "gated_add_f32", "ppplii"),
    MODULATE("elementwise", "modulate_f32", "pppplii"),
    TO_BF16("elementwise", "to_bf16", "ppl"),
    TO_F16("elementwise", "to_f16", "ppl"),
    COPY_ROWS("elementwise", "copy_rows_f32", "ppli"),
    FLOW_TO_X0("schedule", "flow_to_x0_f32", "ppfpl"),
    ADD_NOISE("schedule", "add_noise_f32", "ppfpl"),
    FLOW_STEP("schedule", "flow_step_f32", "pppffppl"),
    LAYER_NORM("norms", "layer_norm_f32", "pppfpli"),
    RMS_NORM("norms", "rms_norm_f32", "ppfpli"),
    LAYER_NORM_MODULATE("norms", "layer_norm_modulate_f32", "pfppplii"),
    ROPE3D("rope", "rope3d_f32", "piiiiiip"),
    PATCHIFY("layout", "patchify_f32", "ppiiiiiii"),
    UNPATCHIFY("layout", "unpatchify_f32", "ppiiiiiii"),
    UPSAMPLE_NEAREST2X("layout", "upsample_nearest2x_f32", "ppiiii"),
    ATTENTION("attention", "attention_f32", "ppppiiiillf"),
    BIASED_ATTENTION("attention", "biased_attention_f32", "pppppiiiif"),
    CONV3D_F32("conv3d", "conv3d_f32", "ppppiiiiiiii"),
    CONV3D_BF16("conv3d", "conv3d_bf16", "ppppiiiiiiii"),
    CONV3D_F16("conv3d", "conv3d_f16", "ppppiiiiiiii"),
    FLOW_WARP_ERROR("flowwarp", "flow_warp_error_f32", "ppiiiiif");

    /** The .cu file's base name: its PTX is the classpath resource kernels/&lt;file&gt;.ptx beside this class. */
    final String file;
    /** The extern "C" symbol. */
    final String symbol;
    /**
     * The C types of its parameters in order, a letter each: p a device pointer, l long long, i int, f float.
     * KernelArgs refuses a launch whose arguments differ, and KernelAbiTest holds this against the PTX.
     */
    final String parameters;

    Kernel(String file, String symbol, String parameters) {
        this.file = file;
        this.symbol = symbol;
        this.parameters = parameters;
    }
}

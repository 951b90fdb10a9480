package dev.diagonal.model.vae;

import dev.diagonal.backend.Backend;
import dev.diagonal.model.dit.ParameterSource;
import dev.diagonal.tensor.Tensor;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * The tiny latent decoder (TAEHV-shaped; tools/reference/tiny_decoder.py is its reference): the same latents
 * as the Wan VAE to the same frames, through a few 2D convs per resolution with one frame of memory instead
 * of 3D convs, norms and attention, so decoding stops being the stream's bottleneck on a CPU (the paper's
 * speed figures use such a decoder too). Trained to imitate a VAE decoder by tools/train/decoder.py.
 *
 * <p>Built from the VAE decoder's parts: {@link CausalConv} (kt 1, or 2 for a memory block) on
 * channels-last activations, SiLU, nearest 2x upsampling; so the CUDA backend runs it with the same kernels.
 */
public final class TinyDecoder implements LatentDecoder {
    private final TinyDecoderConfig config;
    private final Backend backend;
    private final CausalConv convIn;
    private final List<Level> levels;
    private final CausalConv convOut;
    private final int historySlots;

    /** One resolution: its memory blocks, then (but for the last) time growth and the upsample. */
    private record Level(List<MemoryBlock> blocks, TimeGrowth grow, CausalConv up) {
    }

    private TinyDecoder(TinyDecoderConfig config, VaeParameters p, Backend backend) {
        this.config = config;
        this.backend = backend;
        History.Slots slots = new History.Slots();
        convIn = new CausalConv(p, "conv_in", slots);
        List<Level> ls = new ArrayList<>();
        int n = config.widths().size();
        for (int i = 0; i < n; i++) {
            List<MemoryBlock> blocks = new ArrayList<>();
            for (int b = 0; b < config.blocks().get(i); b++) {
                blocks.add(new MemoryBlock(p, "levels." + i + ".blocks." + b, slots));
            }
            boolean last = i == n - 1;
            TimeGrowth grow = !last && config.temporalUpsample().get(i) ? new TimeGrowth(p, "levels." + i + ".grow") : null;
            CausalConv up = last ? null : new CausalConv(p, "levels." + i + ".up", slots);
            ls.add(new Level(List.copyOf(blocks), grow, up));
        }
        levels = List.copyOf(ls);
        convOut = new CausalConv(p, "conv_out", slots);
        historySlots = slots.count();
    }

    /**
     * Loads the decoder strictly from {@code source} (names of {@link TinyDecoderKeys}); the weights, widened to
     * F32 in the conv layout, are owned by {@code arena}.
     */
    public static TinyDecoder load(TinyDecoderConfig config, ParameterSource source, Backend backend, Arena arena) {
        return new TinyDecoder(config, new VaeParameters(source, TinyDecoderKeys.of(config), backend, arena), backend);
    }

    public TinyDecoderConfig config() {
        return config;
    }

    @Override
    public String describe() {
        return "tiny " + config.name();
    }

    @Override
    public LatentFormat format() {
        return config.format();
    }

    @Override
    public DecodeStream newStream(Arena arena) {
        return new DecodeStream(config.format(), backend, this::decodeFrame, new History(backend, arena, historySlots));
    }

    private Activation decodeFrame(History past, Activation z, boolean streamStart) {
        Backend be = backend;
        Activation x;
        try (z) {
            x = convIn.forward(be, past, z);
        }
        be.silu(x.tensor());
        for (Level level : levels) {
            for (MemoryBlock b : level.blocks) {
                x = b.forward(be, past, x);
            }
            if (level.grow != null) {
                x = level.grow.forward(be, x, streamStart);
            }
            if (level.up != null) {
                try (Activation in = x; Activation up = Activation.allocate(be, in.frames(), 2 * in.height(),
                        2 * in.width(), in.channels())) {
                    be.upsampleNearest2x(in.tensor(), up.tensor());
                    x = level.up.forward(be, past, up);
                }
                be.silu(x.tensor());
            }
        }
        try (Activation in = x) {
            return convOut.forward(be, past, in);
        }
    }

    /**
     * Every frame but the video's first becomes two: the halves of a 1x1 conv's output channels, as Wan's
     * time upsampler splits its conv (with no past frames here: the memory blocks carry time).
     */
    private static final class TimeGrowth {
        private final Tensor first, second, firstBias, secondBias;

        TimeGrowth(VaeParameters p, String prefix) {
            Tensor w = p.conv(prefix + ".weight");
            Tensor b = p.vector(prefix + ".bias");
            long c = w.dim(0) / 2;
            first = w.rows(0, c);
            second = w.rows(c, c);
            firstBias = b.rows(0, c);
            secondBias = b.rows(c, c);
        }

        /** Consumes x. */
        Activation forward(Backend be, Activation x, boolean streamStart) {
            int head = streamStart ? 1 : 0;
            long rest = x.frames() - head;
            if (rest == 0) {
                return x;
            }
            try (x) {
                Activation out = Activation.allocate(be, head + 2 * rest, x.height(), x.width(), x.channels());
                be.copyRows(x.tensor(), 0, out.tensor(), 0, head);
                for (long i = 0; i < rest; i++) {
                    Tensor frame = x.tensor().rows(head + i, 1);
                    be.conv3d(frame, first, firstBias, out.tensor().rows(head + 2 * i, 1));
                    be.conv3d(frame, second, secondBias, out.tensor().rows(head + 2 * i + 1, 1));
                }
                return out;
            }
        }
    }
}

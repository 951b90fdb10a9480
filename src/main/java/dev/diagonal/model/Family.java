package dev.diagonal.model;

import dev.diagonal.schedule.ContextRule;
import dev.diagonal.schedule.DiagonalSchedule;
import dev.diagonal.schedule.StepList;

import java.util.List;
import java.util.Locale;

/**
 * How one project's released checkpoints are meant to be run: which nested state dict to take, the DiT config,
 * the per-chunk step lists, the context rule, the chunking, the KV cache window and sink, and for LoRA releases
 * the adapter's rank and alpha. Each number comes from the project's own inference config or code; the README's
 * table "PyTorch checkpoints and family presets" names the file for each, and what could not be found.
 *
 * @param config     the {@link dev.diagonal.model.dit.WanConfig} preset the checkpoint fits
 * @param stateDicts nesting keys to prefer inside a PyTorch checkpoint, in order
 * @param window     KV cache window in latent frames (0: the whole video)
 * @param sink       leading frames never evicted from the window
 * @param lora       the LoRA the release applies on top of its base, or null
 */
public record Family(String name, String config, List<String> stateDicts, DiagonalSchedule schedule,
                     ContextRule context, int chunkFrames, int window, int sink, Lora lora) {

    /**
     * A LoRA adapter as peft applies it: W' = W + (alpha / rank) · B · A, for every module with a lora_A/lora_B pair.
     *
     * @param stateDict where the adapter's tensors are nested in its checkpoint
     */
    public record Lora(int rank, double alpha, String stateDict) {
        public Lora {
            if (rank < 1 || !(alpha > 0)) {
                throw new IllegalArgumentException("LoRA rank must be >= 1 and alpha > 0, got " + rank + ", " + alpha);
            }
        }

        /** peft's scaling for a plain (not rank-stabilized) LoRA. */
        public double scale() {
            return alpha / rank;
        }
    }

    public Family {
        stateDicts = List.copyOf(stateDicts);
    }

    /** guandeh17/Self-Forcing: self_forcing_dmd.pt with --use_ema; uniform 4 steps, clean re-encode, whole cache. */
    public static final Family SELF_FORCING = new Family("self-forcing", "t2v-1.3b", List.of("generator_ema"),
            DiagonalSchedule.UNIFORM_4, new ContextRule.Reencode(0), 3, 0, 0, null);

    /** tianweiy/CausVid: configs/wan_causal_dmd.yaml, steps 1000, 757, 522 unwarped, clean re-encode, whole cache. */
    public static final Family CAUSVID = new Family("causvid", "t2v-1.3b", List.of("generator"),
            DiagonalSchedule.uniform("causvid-3", StepList.of(1000, 757, 522)), new ContextRule.Reencode(0), 3, 0, 0, null);

    /** NVlabs/LongLive (v1, Wan2.1-T2V-1.3B): longlive_base.pt plus lora.pt (rank 256, alpha 256), window 12, sink 3. */
    public static final Family LONGLIVE = new Family("longlive", "t2v-1.3b", List.of("generator"),
            DiagonalSchedule.UNIFORM_4, new ContextRule.Reencode(0), 3, 12, 3, new Lora(256, 256, "generator_lora"));

    /**
     * Sphere-AI-Lab/diagdistill: diagonal 4-3-2 steps with noisy KV reuse (no context pass), window 12, sink 3, on
     * LongLive's base and LoRA (its configs/diadistill_inference.yaml points at longlive_models/).
     */
    public static final Family DIAGONAL = new Family("diagonal", "t2v-1.3b", List.of("generator"),
            DiagonalSchedule.DIAGONAL_4_3_2, ContextRule.REUSE, 3, 12, 3, new Lora(256, 256, "generator_lora"));

    /**
     * krea-ai/realtime-video (Krea Realtime 14B, Wan2.1-T2V-14B): steps 1000, 937, 833, 625; its server rebuilds
     * the cache each chunk from clean latents (kv_cache_num_frames 3 plus the chunk), which the clean re-encode
     * with a 6-frame window and a 1-frame sink approximates.
     */
    public static final Family KREA = new Family("krea", "t2v-14b", List.of(),
            DiagonalSchedule.UNIFORM_4, new ContextRule.Reencode(0), 3, 6, 1, null);

    /** Every preset, for the CLI and the README table. */
    public static List<Family> presets() {
        return List.of(SELF_FORCING, CAUSVID, LONGLIVE, DIAGONAL, KREA);
    }

    /** A preset by name. */
    public static Family preset(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (Family f : presets()) {
            if (f.name.equals(n)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown family '" + name + "': use one of "
                + presets().stream().map(Family::name).toList());
    }

    /** One line for logs. */
    public String describe() {
        return name + ": config " + config + ", schedule " + schedule + ", context " + context + ", " + chunkFrames
                + " frames per chunk, cache " + (window == 0 ? "whole stream" : window + " frames, sink " + sink)
                + (lora == null ? "" : ", LoRA rank " + lora.rank() + " alpha " + lora.alpha());
    }
}
